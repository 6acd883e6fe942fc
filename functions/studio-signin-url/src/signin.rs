//! A sign-in link for a user profile of an IAM domain: CreatePresignedDomainUrl with every
//! input checked first, and errors that say what to change.

use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sagemaker::primitives::{DateTime, DateTimeFormat};
use aws_sdk_sagemaker::types::AuthMode;
use function_base::PropertyError;
use function_base::aws::describe;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};
use studio::error::error_code;
use studio::names::{check_domain_id, check_name};

/// How long a URL stays valid when ExpiresInSeconds is not given (the API's default).
const DEFAULT_EXPIRES_IN_SECONDS: i32 = 300;

/// The apps a LandingUri of the form `app:<App>:<path>` may name.
const LANDING_APPS: [&str; 5] = ["JupyterServer", "JupyterLab", "RStudioServerPro", "CodeEditor", "Canvas"];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Input {
    pub domain_id: String,
    pub user_profile_name: String,
    pub expires_in_seconds: Option<i32>,
    pub session_expiration_duration_in_seconds: Option<i32>,
    pub landing_uri: Option<String>,
    pub space_name: Option<String>,
}

/// Deliberately not `Debug`: the URL signs its holder in, and must not end up in logs.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    pub authorized_url: String,
    /// When the URL stops working (RFC 3339, UTC).
    pub expires_at: String,
}

/// What the caller gets as errorType / errorMessage.
#[derive(Debug, thiserror::Error)]
pub enum SigninError {
    /// A field is missing, unknown or outside the API's constraints (or the function's cap).
    #[error("Invalid input {0}")]
    InvalidInput(PropertyError),
    /// No Function URL identity, an unknown caller, or a profile the caller may not sign in as.
    #[error("{0}")]
    Forbidden(String),
    /// Anything but POST.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The domain, user profile or space does not exist.
    #[error("{0}")]
    NotFound(String),
    /// An IAM Identity Center domain: there are no presigned URLs there.
    #[error("{0}")]
    UnsupportedAuthMode(String),
    /// Any other AWS error, with its code as errorType.
    #[error("{message}")]
    Aws { code: String, message: String },
}

impl SigninError {
    pub fn error_type(&self) -> &str {
        match self {
            SigninError::InvalidInput(_) => "InvalidInput",
            SigninError::Forbidden(_) => "AccessDenied",
            SigninError::MethodNotAllowed(_) => "MethodNotAllowed",
            SigninError::NotFound(_) => "ResourceNotFound",
            SigninError::UnsupportedAuthMode(_) => "UnsupportedAuthMode",
            SigninError::Aws { code, .. } => code,
        }
    }

    /// The HTTP status the caller gets: 502 when SageMaker failed us, not the caller.
    pub fn status(&self) -> u16 {
        match self {
            SigninError::InvalidInput(_) | SigninError::UnsupportedAuthMode(_) => 400,
            SigninError::Forbidden(_) => 403,
            SigninError::NotFound(_) => 404,
            SigninError::MethodNotAllowed(_) => 405,
            SigninError::Aws { .. } => 502,
        }
    }

    /// The response body: {errorType, errorMessage}.
    pub fn body(&self) -> Value {
        json!({"errorType": self.error_type(), "errorMessage": self.to_string()})
    }

    fn aws<E, R>(operation: &str, err: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        // No code: the service could not be reached or did not answer.
        let code = error_code(err).unwrap_or("ServiceUnavailable").to_string();
        SigninError::Aws { code, message: describe(operation, err) }
    }
}

impl From<PropertyError> for SigninError {
    fn from(e: PropertyError) -> Self {
        SigninError::InvalidInput(e)
    }
}

impl Input {
    /// The request body, read and checked; `max_session_seconds` is SIGNIN_MAX_SESSION_SECONDS.
    pub fn parse(body: &[u8], max_session_seconds: i32) -> Result<Input, SigninError> {
        let value: Value = serde_json::from_slice(body).ok().filter(Value::is_object).ok_or_else(|| {
            PropertyError::new(
                "body",
                "must be a JSON object {DomainId, UserProfileName, ExpiresInSeconds, SessionExpirationDurationInSeconds, LandingUri, SpaceName}",
            )
        })?;
        let input: Input = function_base::properties::from_value(&value)?;
        input.validate(max_session_seconds)?;
        Ok(input)
    }

    /// The session length to ask for: the one asked, or the cap (SageMaker's own default,
    /// 12 hours, may be above the cap).
    pub fn session_seconds(&self, max_session_seconds: i32) -> i32 {
        self.session_expiration_duration_in_seconds.unwrap_or(max_session_seconds)
    }

    /// The API's constraints, checked here so that the error names the field.
    pub fn validate(&self, max_session_seconds: i32) -> Result<(), PropertyError> {
        check_domain_id("DomainId", &self.domain_id)?;
        check_name("UserProfileName", &self.user_profile_name)?;
        if let Some(space) = &self.space_name {
            check_name("SpaceName", space)?;
        }
        if let Some(seconds) = self.expires_in_seconds
            && !(5..=300).contains(&seconds)
        {
            return Err(PropertyError::new("ExpiresInSeconds", format!("must be from 5 to 300 (how long the URL stays valid), got {seconds}")));
        }
        if let Some(seconds) = self.session_expiration_duration_in_seconds
            && !(1800..=43200).contains(&seconds)
        {
            return Err(PropertyError::new(
                "SessionExpirationDurationInSeconds",
                format!("must be from 1800 to 43200 (how long the Studio session lasts: 30 minutes to 12 hours), got {seconds}"),
            ));
        }
        if let Some(seconds) = self.session_expiration_duration_in_seconds
            && seconds > max_session_seconds
        {
            return Err(PropertyError::new(
                "SessionExpirationDurationInSeconds",
                format!("must be at most {max_session_seconds}, the longest Studio session this function issues (SIGNIN_MAX_SESSION_SECONDS), got {seconds}"),
            ));
        }
        if let Some(uri) = &self.landing_uri {
            check_landing_uri(uri)?;
        }
        Ok(())
    }
}

/// `studio::<relative/path>` or `app:<App>:<relative/path>`, at most 1023 characters.
fn check_landing_uri(uri: &str) -> Result<(), PropertyError> {
    let known_form =
        uri.starts_with("studio::") || uri.strip_prefix("app:").and_then(|rest| rest.split_once(':')).is_some_and(|(app, _)| LANDING_APPS.contains(&app));
    if !known_form {
        return Err(PropertyError::new(
            "LandingUri",
            format!("must be studio::<relative/path> or app:<App>:<relative/path> with App one of {}, got {uri:?}", LANDING_APPS.join(", ")),
        ));
    }
    if uri.chars().count() > 1023 {
        return Err(PropertyError::new("LandingUri", "must be at most 1023 characters"));
    }
    Ok(())
}

/// A checked input (of a caller allowed this profile) in, the URL and its expiry out.
pub async fn sign_in(sagemaker: &Client, input: &Input, session_seconds: i32) -> Result<Output, SigninError> {
    let domain_id = &input.domain_id;

    let domain = sagemaker.describe_domain().domain_id(domain_id).send().await.map_err(|e| match error_code(&e) {
        Some("ResourceNotFound") => SigninError::NotFound(format!("DomainId: domain {domain_id} does not exist")),
        _ => SigninError::aws("DescribeDomain", &e),
    })?;
    if domain.auth_mode() == Some(&AuthMode::Sso) {
        let url = domain.url().map(|url| format!(" at {url}")).unwrap_or_default();
        return Err(SigninError::UnsupportedAuthMode(format!(
            "domain {domain_id} uses IAM Identity Center (AuthMode SSO): its users sign in through the IAM Identity Center access portal or the domain's URL{url}; presigned URLs exist only for domains with AuthMode IAM"
        )));
    }

    // Counted from before the call, so the URL never outlives the time announced.
    let issued_at = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    let created = sagemaker
        .create_presigned_domain_url()
        .domain_id(domain_id)
        .user_profile_name(&input.user_profile_name)
        .set_expires_in_seconds(input.expires_in_seconds)
        .session_expiration_duration_in_seconds(session_seconds)
        .set_landing_uri(input.landing_uri.clone())
        .set_space_name(input.space_name.clone())
        .send()
        .await;
    let output = match created {
        Ok(output) => output,
        Err(e) if error_code(&e) == Some("ResourceNotFound") => return Err(what_is_missing(sagemaker, input, describe("CreatePresignedDomainUrl", &e)).await),
        Err(e) => return Err(SigninError::aws("CreatePresignedDomainUrl", &e)),
    };
    let Some(url) = output.authorized_url() else {
        return Err(SigninError::Aws { code: "ServiceUnavailable".into(), message: "CreatePresignedDomainUrl returned no AuthorizedUrl".into() });
    };
    let expires_in = input.expires_in_seconds.unwrap_or(DEFAULT_EXPIRES_IN_SECONDS);
    let expires_at = DateTime::from_secs((issued_at + expires_in.unsigned_abs() as u64) as i64);
    Ok(Output { authorized_url: url.to_string(), expires_at: expires_at.fmt(DateTimeFormat::DateTime).unwrap_or_default() })
}

/// ResourceNotFound names no field: find out whether the user profile or the space is missing
/// (the Studio layer's lookups know how each kind reports absence).
async fn what_is_missing(sagemaker: &Client, input: &Input, aws_reason: String) -> SigninError {
    let (domain_id, profile) = (&input.domain_id, &input.user_profile_name);
    if matches!(studio::describe::user_profile(sagemaker, domain_id, profile).await, Ok(None)) {
        return SigninError::NotFound(format!("UserProfileName: user profile {profile} does not exist in domain {domain_id}"));
    }
    if let Some(space) = &input.space_name
        && matches!(studio::describe::space(sagemaker, domain_id, space).await, Ok(None))
    {
        return SigninError::NotFound(format!("SpaceName: space {space} does not exist in domain {domain_id}"));
    }
    SigninError::NotFound(aws_reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(value: serde_json::Value) -> Result<Input, PropertyError> {
        let input: Input = function_base::properties::from_value(&value)?;
        input.validate(43200)?;
        Ok(input)
    }

    fn path_of_error(value: serde_json::Value) -> String {
        input(value).map(|_| ()).unwrap_err().path
    }

    #[test]
    fn a_full_input_is_accepted_with_numbers_as_strings() {
        let i = input(json!({"DomainId": "d-abc123", "UserProfileName": "alice", "ExpiresInSeconds": "60",
            "SessionExpirationDurationInSeconds": 1800, "LandingUri": "app:JupyterLab:lab/tree/work", "SpaceName": "alice-space"}))
        .unwrap();
        assert_eq!(i.expires_in_seconds, Some(60));
        assert_eq!(i.session_expiration_duration_in_seconds, Some(1800));
    }

    #[test]
    fn each_field_is_checked_against_the_api_constraints() {
        let base = json!({"DomainId": "d-abc123", "UserProfileName": "alice"});
        let with = |key: &str, value: serde_json::Value| {
            let mut v = base.clone();
            v[key] = value;
            v
        };
        assert_eq!(path_of_error(with("DomainId", json!("abc123"))), "DomainId");
        assert_eq!(path_of_error(with("UserProfileName", json!("alice smith"))), "UserProfileName");
        assert_eq!(path_of_error(with("SpaceName", json!("-space"))), "SpaceName");
        assert_eq!(path_of_error(with("ExpiresInSeconds", json!(4))), "ExpiresInSeconds");
        assert_eq!(path_of_error(with("ExpiresInSeconds", json!("301"))), "ExpiresInSeconds");
        assert_eq!(path_of_error(with("ExpiresInSeconds", json!("soon"))), "ExpiresInSeconds");
        assert_eq!(path_of_error(with("SessionExpirationDurationInSeconds", json!(1799))), "SessionExpirationDurationInSeconds");
        assert_eq!(path_of_error(with("SessionExpirationDurationInSeconds", json!(43201))), "SessionExpirationDurationInSeconds");
        assert_eq!(path_of_error(with("LandingUri", json!("https://example.com"))), "LandingUri");
        assert_eq!(path_of_error(with("LandingUri", json!("app:Notebook:x"))), "LandingUri");
        assert_eq!(path_of_error(with("Colour", json!("red"))), "Colour");
        assert_eq!(path_of_error(json!({"DomainId": "d-abc123"})), "UserProfileName");
        for ok in ["studio::", "studio::projects", "app:JupyterServer:", "app:CodeEditor:default", "app:Canvas:"] {
            input(with("LandingUri", json!(ok))).unwrap();
        }
    }

    #[test]
    fn errors_carry_a_type_the_caller_can_branch_on_and_an_http_status() {
        let e = SigninError::from(PropertyError::new("ExpiresInSeconds", "must be from 5 to 300, got 600"));
        assert_eq!(e.body(), json!({"errorType": "InvalidInput", "errorMessage": "Invalid input ExpiresInSeconds: must be from 5 to 300, got 600"}));
        assert_eq!(e.status(), 400);
        let e = SigninError::Aws { code: "AccessDeniedException".into(), message: "m".into() };
        assert_eq!((e.error_type(), e.status()), ("AccessDeniedException", 502));
        assert_eq!(SigninError::Forbidden("no".into()).status(), 403);
        assert_eq!(SigninError::NotFound("no".into()).status(), 404);
    }

    #[test]
    fn the_session_is_capped_and_defaults_to_the_cap() {
        let body = |session: &str| format!(r#"{{"DomainId": "d-abc123", "UserProfileName": "alice"{session}}}"#);
        let e = Input::parse(body(r#", "SessionExpirationDurationInSeconds": 7200"#).as_bytes(), 3600).unwrap_err();
        assert!(e.to_string().starts_with("Invalid input SessionExpirationDurationInSeconds: must be at most 3600"), "{e}");
        let i = Input::parse(body("").as_bytes(), 3600).unwrap();
        assert_eq!(i.session_seconds(3600), 3600);
        assert!(Input::parse(b"not json", 3600).unwrap_err().to_string().starts_with("Invalid input body: must be a JSON object"));
    }
}
