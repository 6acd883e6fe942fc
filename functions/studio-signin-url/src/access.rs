//! Who may sign in as whom. The caller is the principal that signed the Function URL request
//! (requestContext.authorizer.iam.userArn); the lists come from the environment the template
//! sets: SIGNIN_TRUSTED_CALLER_ARNS, SIGNIN_SELF_SERVICE_ROLE_ARNS,
//! SIGNIN_PINNED_SESSION_ROLE_ARNS, SIGNIN_DOMAIN_IDS, SIGNIN_MAX_SESSION_SECONDS.
//!
//! Self-service matches the role session name with a UserProfileName, so it is only as good as
//! the session name. AssumeRole and AssumeRoleWithWebIdentity take the name from the caller;
//! AssumeRoleWithSAML takes it from the identity provider's assertion, and IAM Identity Center
//! sets it to the user name for its permission-set roles (AWS Security Blog, "Easily control
//! the naming of individual IAM role sessions"). So a self-service role counts only when its
//! session names cannot be chosen by the caller: an Identity Center permission-set role, or a
//! role whose trust policy pins the name (`sts:RoleSessionName`), listed in
//! SIGNIN_PINNED_SESSION_ROLE_ARNS.

use studio::names::check_domain_id;

/// The API's longest Studio session, and the cap when SIGNIN_MAX_SESSION_SECONDS is unset.
pub const LONGEST_SESSION_SECONDS: i32 = 43200;
const SHORTEST_SESSION_SECONDS: i32 = 1800;

/// A role, as both its IAM ARN (`arn:P:iam::A:role/PATH/NAME`) and the ARN of a session of it
/// (`arn:P:sts::A:assumed-role/NAME/SESSION`) identify it: the path is not part of an
/// assumed-role ARN, and a role name is unique in its account whatever the path.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Role {
    partition: String,
    account: String,
    name: String,
}

impl Role {
    /// The role and its path (`/` or `/a/b/`), from an IAM role ARN.
    fn with_path(arn: &str) -> Option<(Role, String)> {
        let [partition, resource] = arn_parts(arn, "iam", "")?;
        let rest = resource.strip_prefix("role/")?;
        let (path, name) = match rest.rsplit_once('/') {
            Some((path, name)) => (format!("/{path}/"), name),
            None => ("/".to_string(), rest),
        };
        let role = Role { partition: partition.to_string(), account: account_of(arn)?, name: name.to_string() };
        (!name.is_empty()).then_some((role, path))
    }

    /// An IAM Identity Center permission-set role: `AWSReservedSSO_<set>_<hash>` under the path
    /// `/aws-reserved/sso.amazonaws.com/` (with the instance's Region as one more segment
    /// outside us-east-1). IAM keeps `/aws-reserved/` to AWS, and a role name is unique in its
    /// account whatever the path, so a session of that name in that account is of this role.
    fn is_identity_center_role(&self, path: &str) -> bool {
        let Some(rest) = path.strip_prefix("/aws-reserved/sso.amazonaws.com/") else {
            return false;
        };
        let region_or_nothing = rest.is_empty() || rest.strip_suffix('/').is_some_and(|region| !region.is_empty() && !region.contains('/'));
        region_or_nothing && self.name.starts_with("AWSReservedSSO_")
    }
}

/// Who sets the session names of a self-service role's sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SessionNamer {
    /// IAM Identity Center: the user name.
    IdentityCenter,
    /// The role's trust policy pins `sts:RoleSessionName` (SIGNIN_PINNED_SESSION_ROLE_ARNS).
    TrustPolicy,
}

/// A role of SIGNIN_SELF_SERVICE_ROLE_ARNS or SIGNIN_PINNED_SESSION_ROLE_ARNS.
#[derive(Debug, Clone)]
struct SelfServiceRole {
    role: Role,
    /// None: whoever assumes the role names the session; it grants nothing.
    namer: Option<SessionNamer>,
}

/// `arn:P:SERVICE:REGION:ACCOUNT:RESOURCE` with the service and region asked for: [P, RESOURCE].
fn arn_parts<'a>(arn: &'a str, service: &str, region: &str) -> Option<[&'a str; 2]> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, s, r, account, resource]
            if *s == service && *r == region && !partition.is_empty() && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some([partition, resource])
        }
        _ => None,
    }
}

fn account_of(arn: &str) -> Option<String> {
    arn.split(':').nth(4).map(str::to_string)
}

/// The principal that signed the request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub arn: String,
    /// The role and session name, when the caller is a role session.
    session: Option<(Role, String)>,
}

impl Caller {
    pub fn from_arn(arn: &str) -> Caller {
        let session = arn_parts(arn, "sts", "").and_then(|[partition, resource]| {
            let (name, session) = resource.strip_prefix("assumed-role/")?.split_once('/')?;
            let role = Role { partition: partition.to_string(), account: account_of(arn)?, name: name.to_string() };
            (!name.is_empty() && !session.is_empty() && !session.contains('/')).then(|| (role, session.to_string()))
        });
        Caller { arn: arn.to_string(), session }
    }
}

/// What a known caller may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// A trusted caller (a portal backend): any profile of an allowed domain.
    AnyProfile,
    /// A self-service caller: only the profile named like its role session.
    OwnProfile(String),
}

/// The function's access rules, read once at start-up.
#[derive(Debug, Clone)]
pub struct Access {
    trusted: Vec<Role>,
    self_service: Vec<SelfServiceRole>,
    domains: Vec<String>,
    /// The longest session (SessionExpirationDurationInSeconds) this function issues.
    pub max_session_seconds: i32,
}

/// A setting the function cannot work with: it refuses to start, naming it.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    variable: &'static str,
    message: String,
}

impl Access {
    pub fn from_env() -> Result<Access, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Access, ConfigError> {
        let list =
            |name: &str| -> Vec<String> { var(name).unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect() };
        let roles = |variable: &'static str| -> Result<Vec<(Role, String)>, ConfigError> {
            list(variable)
                .iter()
                .map(|arn| {
                    Role::with_path(arn).ok_or_else(|| ConfigError {
                        variable,
                        message: format!("{arn:?} is not an IAM role ARN (arn:<partition>:iam::<account>:role/[<path>/]<name>)"),
                    })
                })
                .collect()
        };
        let domains = list("SIGNIN_DOMAIN_IDS");
        for domain in &domains {
            check_domain_id("SIGNIN_DOMAIN_IDS", domain).map_err(|e| ConfigError { variable: "SIGNIN_DOMAIN_IDS", message: e.message })?;
        }
        let max_session_seconds = match var("SIGNIN_MAX_SESSION_SECONDS").filter(|s| !s.trim().is_empty()) {
            None => LONGEST_SESSION_SECONDS,
            Some(text) => text.trim().parse().ok().filter(|n| (SHORTEST_SESSION_SECONDS..=LONGEST_SESSION_SECONDS).contains(n)).ok_or_else(|| ConfigError {
                variable: "SIGNIN_MAX_SESSION_SECONDS",
                message: format!("must be a number of seconds from {SHORTEST_SESSION_SECONDS} to {LONGEST_SESSION_SECONDS}, got {text:?}"),
            })?,
        };
        let trusted = roles("SIGNIN_TRUSTED_CALLER_ARNS")?.into_iter().map(|(role, _)| role).collect();
        let mut self_service: Vec<SelfServiceRole> = roles("SIGNIN_SELF_SERVICE_ROLE_ARNS")?
            .into_iter()
            .map(|(role, path)| {
                let namer = role.is_identity_center_role(&path).then_some(SessionNamer::IdentityCenter);
                SelfServiceRole { role, namer }
            })
            .collect();
        // A pinned role is a self-service role whose session names its trust policy fixes.
        for (role, _) in roles("SIGNIN_PINNED_SESSION_ROLE_ARNS")? {
            match self_service.iter_mut().find(|s| s.role == role) {
                Some(known) => known.namer = known.namer.or(Some(SessionNamer::TrustPolicy)),
                None => self_service.push(SelfServiceRole { role, namer: Some(SessionNamer::TrustPolicy) }),
            }
        }
        Ok(Access { trusted, self_service, domains, max_session_seconds })
    }

    /// The self-service roles whose session names their callers choose (they grant nothing;
    /// logged at start-up).
    pub fn unpinned_self_service_roles(&self) -> Vec<String> {
        self.self_service
            .iter()
            .filter(|s| s.namer.is_none())
            .map(|s| format!("arn:{}:iam::{}:role/{}", s.role.partition, s.role.account, s.role.name))
            .collect()
    }

    /// What the caller may do at all; Err: why nothing (for the caller to read).
    pub fn grant(&self, caller: &Caller) -> Result<Grant, String> {
        let unknown = || format!("{} is neither a trusted caller nor a self-service role of this function", caller.arn);
        let (role, session) = caller.session.as_ref().ok_or_else(unknown)?;
        if self.trusted.contains(role) {
            return Ok(Grant::AnyProfile);
        }
        let self_service = self.self_service.iter().find(|s| &s.role == role).ok_or_else(unknown)?;
        match self_service.namer {
            Some(_) => Ok(Grant::OwnProfile(session.clone())),
            None => Err(format!(
                "{}: whoever assumes role {} chooses its session name, so the session name cannot stand for a user profile. Self-service \
                 needs an IAM Identity Center permission-set role (AWSReservedSSO_*) or a role whose trust policy pins sts:RoleSessionName, \
                 listed in SIGNIN_PINNED_SESSION_ROLE_ARNS",
                caller.arn, role.name
            )),
        }
    }

    /// Whether the grant covers this profile; Err: why not, for the caller to read.
    pub fn permit(&self, grant: &Grant, domain_id: &str, profile: &str) -> Result<(), String> {
        if !self.domains.iter().any(|d| d == domain_id) {
            return Err(format!("DomainId: this function does not sign in to domain {domain_id} (it is not in SIGNIN_DOMAIN_IDS)"));
        }
        match grant {
            Grant::AnyProfile => Ok(()),
            Grant::OwnProfile(session) if session == profile => Ok(()),
            Grant::OwnProfile(session) => Err(format!(
                "UserProfileName: a self-service caller may sign in only as the user profile named like its role session ({session}), not as {profile}"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(trusted: &str, self_service: &str) -> Access {
        Access::from_vars(|name| match name {
            "SIGNIN_TRUSTED_CALLER_ARNS" => Some(trusted.to_string()),
            "SIGNIN_SELF_SERVICE_ROLE_ARNS" => Some(self_service.to_string()),
            "SIGNIN_DOMAIN_IDS" => Some("d-abc123, d-def456".to_string()),
            _ => None,
        })
        .unwrap()
    }

    fn grant(access: &Access, caller_arn: &str) -> Option<Grant> {
        access.grant(&Caller::from_arn(caller_arn)).ok()
    }

    fn with_pinned(self_service: &str, pinned: &str) -> Access {
        Access::from_vars(|name| match name {
            "SIGNIN_SELF_SERVICE_ROLE_ARNS" => Some(self_service.to_string()),
            "SIGNIN_PINNED_SESSION_ROLE_ARNS" => Some(pinned.to_string()),
            "SIGNIN_DOMAIN_IDS" => Some("d-abc123".to_string()),
            _ => None,
        })
        .unwrap()
    }

    #[test]
    fn a_session_matches_its_role_whatever_the_role_path() {
        let a = access("arn:aws:iam::123456789012:role/portal/backend/PortalBackend", "");
        assert_eq!(grant(&a, "arn:aws:sts::123456789012:assumed-role/PortalBackend/i-0abc"), Some(Grant::AnyProfile));
        // Another account, partition or role, a user, a session-less ARN: unknown.
        for other in [
            "arn:aws:sts::210987654321:assumed-role/PortalBackend/i-0abc",
            "arn:aws-cn:sts::123456789012:assumed-role/PortalBackend/i-0abc",
            "arn:aws:sts::123456789012:assumed-role/PortalBackendX/i-0abc",
            "arn:aws:sts::123456789012:assumed-role/portalbackend/i-0abc",
            "arn:aws:iam::123456789012:user/PortalBackend",
            "arn:aws:iam::123456789012:role/portal/backend/PortalBackend",
            "arn:aws:sts::123456789012:federated-user/PortalBackend",
            "arn:aws:sts::123456789012:assumed-role/PortalBackend",
            "",
        ] {
            assert_eq!(grant(&a, other), None, "{other}");
        }
    }

    #[test]
    fn self_service_is_limited_to_the_session_name_and_everyone_to_the_domains() {
        let a = access("", "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_DataScientist_0123456789abcdef");
        let g = grant(&a, "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_DataScientist_0123456789abcdef/alice").unwrap();
        assert_eq!(g, Grant::OwnProfile("alice".into()));
        assert_eq!(a.permit(&g, "d-def456", "alice"), Ok(()));
        assert!(a.permit(&g, "d-def456", "bob").unwrap_err().starts_with("UserProfileName:"));
        assert!(a.permit(&Grant::AnyProfile, "d-other1", "alice").unwrap_err().starts_with("DomainId:"));
        assert_eq!(a.permit(&Grant::AnyProfile, "d-abc123", "bob"), Ok(()));
    }

    #[test]
    fn identity_center_permission_set_roles_are_known_by_path_and_name_in_any_region() {
        for arn in [
            "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_DataScientist_0123456789abcdef",
            "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_DataScientist_0123456789abcdef",
        ] {
            let a = with_pinned(arn, "");
            let session = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_DataScientist_0123456789abcdef/alice";
            assert_eq!(grant(&a, session), Some(Grant::OwnProfile("alice".into())), "{arn}");
            assert!(a.unpinned_self_service_roles().is_empty());
        }
        // The name without the reserved path (anyone can create such a role), or the path with
        // another name, or a deeper path: the caller chose the session name.
        for arn in [
            "arn:aws:iam::123456789012:role/AWSReservedSSO_DataScientist_0123456789abcdef",
            "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/DataScientist",
            "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/x/AWSReservedSSO_DataScientist_0123456789abcdef",
            "arn:aws:iam::123456789012:role/team/aws-reserved/sso.amazonaws.com/AWSReservedSSO_DataScientist_0123456789abcdef",
        ] {
            let a = with_pinned(arn, "");
            let name = arn.rsplit('/').next().unwrap();
            let refused = a.grant(&Caller::from_arn(&format!("arn:aws:sts::123456789012:assumed-role/{name}/alice"))).unwrap_err();
            assert!(refused.contains("chooses its session name") && refused.contains("SIGNIN_PINNED_SESSION_ROLE_ARNS"), "{arn}: {refused}");
            assert_eq!(a.unpinned_self_service_roles(), vec![format!("arn:aws:iam::123456789012:role/{name}")]);
        }
    }

    #[test]
    fn an_ordinary_self_service_role_grants_nothing_unless_its_session_name_is_pinned() {
        let ordinary = "arn:aws:iam::123456789012:role/StudioUsers";
        let session = "arn:aws:sts::123456789012:assumed-role/StudioUsers/bob";
        let a = with_pinned(ordinary, "");
        let refused = a.grant(&Caller::from_arn(session)).unwrap_err();
        assert!(refused.starts_with(&format!("{session}: whoever assumes role StudioUsers chooses its session name")), "{refused}");
        // Pinned: listed in both, or in SIGNIN_PINNED_SESSION_ROLE_ARNS alone (whatever the path).
        for a in [with_pinned(ordinary, ordinary), with_pinned("", "arn:aws:iam::123456789012:role/people/StudioUsers")] {
            assert_eq!(grant(&a, session), Some(Grant::OwnProfile("bob".into())));
            assert!(a.unpinned_self_service_roles().is_empty());
        }
        // Pinning one role does not pin another.
        let a = with_pinned(&format!("{ordinary},arn:aws:iam::123456789012:role/Other"), ordinary);
        assert!(a.grant(&Caller::from_arn("arn:aws:sts::123456789012:assumed-role/Other/bob")).is_err());
        assert_eq!(a.unpinned_self_service_roles(), vec!["arn:aws:iam::123456789012:role/Other".to_string()]);
    }

    #[test]
    fn a_bad_setting_is_named() {
        let err = |var: &'static str, value: &'static str| Access::from_vars(|name| (name == var).then(|| value.to_string())).unwrap_err().to_string();
        assert!(err("SIGNIN_TRUSTED_CALLER_ARNS", "PortalBackend").starts_with("SIGNIN_TRUSTED_CALLER_ARNS: \"PortalBackend\" is not an IAM role ARN"));
        assert!(err("SIGNIN_SELF_SERVICE_ROLE_ARNS", "arn:aws:sts::123456789012:assumed-role/R/s").starts_with("SIGNIN_SELF_SERVICE_ROLE_ARNS:"));
        assert!(err("SIGNIN_TRUSTED_CALLER_ARNS", "arn:aws:iam::123456789012:role/").starts_with("SIGNIN_TRUSTED_CALLER_ARNS:"));
        assert!(err("SIGNIN_PINNED_SESSION_ROLE_ARNS", "StudioUsers").starts_with("SIGNIN_PINNED_SESSION_ROLE_ARNS: \"StudioUsers\" is not an IAM role ARN"));
        assert!(err("SIGNIN_DOMAIN_IDS", "portal").starts_with("SIGNIN_DOMAIN_IDS:"));
        assert!(err("SIGNIN_MAX_SESSION_SECONDS", "60").contains("from 1800 to 43200"));
        let defaults = Access::from_vars(|_| None).unwrap();
        assert_eq!(defaults.max_session_seconds, LONGEST_SESSION_SECONDS);
        assert!(defaults.grant(&Caller::from_arn("arn:aws:sts::123456789012:assumed-role/R/s")).is_err());
    }
}
