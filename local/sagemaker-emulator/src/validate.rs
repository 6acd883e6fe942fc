//! SageMaker's member constraints on top of the kit's typed access and [`Checks`].

use crate::error::ApiResult;
pub(crate) use emulator_kit::members::{Body, Checks, opt_int, opt_obj, opt_str, opt_str_list, opt_time, wrong_type};
use serde_json::Value;

pub(crate) const NAME_PATTERN: &str = "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}";
pub(crate) const DOMAIN_ID_PATTERN: &str = "^d-(-*[a-z0-9]){1,61}";
const VPC_PATTERN: &str = "[-0-9a-zA-Z]+";
const KMS_PATTERN: &str = "^[a-zA-Z0-9:/_-]*$";
const LIFECYCLE_ARN_PATTERN: &str = "arn:aws[a-z\\-]*:sagemaker:[a-z0-9\\-]*:[0-9]{12}:studio-lifecycle-config/.*";
const ROLE_PATTERN: &str = "^arn:aws[a-z\\-]*:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+$";
const TAG_PATTERN: &str = "^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$";
pub(crate) const RESOURCE_ARN_PATTERN: &str = "arn:aws[a-z\\-]*:sagemaker:[a-z0-9\\-]*:[0-9]{12}:.+";

/// The SageMaker-specific member checks (patterns from its model).
pub(crate) trait SageMakerChecks {
    /// DomainName, UserProfileName, SpaceName, AppName, StudioLifecycleConfigName.
    fn name(&mut self, path: &str, value: &str);
    fn domain_id(&mut self, path: &str, value: &str);
    /// VpcId and each subnet id.
    fn vpc_id(&mut self, path: &str, value: &str);
    fn kms_key(&mut self, path: &str, value: &str);
    fn lifecycle_arn(&mut self, path: &str, arn: &str);
    /// MaxResults: `min` to 100.
    fn max_results(&mut self, body: &Body, min: i64) -> ApiResult<Option<usize>>;
}

impl SageMakerChecks for Checks {
    fn name(&mut self, path: &str, value: &str) {
        self.length(path, value, 0, 63);
        self.pattern(path, value, is_name(value), NAME_PATTERN);
    }

    fn domain_id(&mut self, path: &str, value: &str) {
        self.length(path, value, 0, 63);
        self.pattern(path, value, is_domain_id(value), DOMAIN_ID_PATTERN);
    }

    fn vpc_id(&mut self, path: &str, value: &str) {
        self.length(path, value, 0, 32);
        let ok = !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        self.pattern(path, value, ok, VPC_PATTERN);
    }

    fn kms_key(&mut self, path: &str, value: &str) {
        self.length(path, value, 0, 2048);
        let ok = value.chars().all(|c| c.is_ascii_alphanumeric() || ":/_-".contains(c));
        self.pattern(path, value, ok, KMS_PATTERN);
    }

    fn lifecycle_arn(&mut self, path: &str, arn: &str) {
        self.length(path, arn, 0, 256);
        self.pattern(path, arn, is_lifecycle_arn(arn), LIFECYCLE_ARN_PATTERN);
    }

    fn max_results(&mut self, body: &Body, min: i64) -> ApiResult<Option<usize>> {
        let max = opt_int(body, "MaxResults")?;
        if let Some(n) = max {
            self.range("MaxResults", n, min, 100);
        }
        Ok(max.and_then(|n| usize::try_from(n).ok()))
    }
}

/// `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}` as a full match: alphanumerics separated by hyphens,
/// starting and ending with an alphanumeric, at most 63 alphanumerics.
pub(crate) fn is_name(s: &str) -> bool {
    let alnum = s.chars().filter(char::is_ascii_alphanumeric).count();
    s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
        && alnum <= 63
}

/// `^d-(-*[a-z0-9]){1,61}` as a full match.
pub(crate) fn is_domain_id(s: &str) -> bool {
    s.strip_prefix("d-").is_some_and(|rest| {
        let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
        rest.chars().all(|c| ok_char(c) || c == '-') && rest.ends_with(ok_char) && (1..=61).contains(&rest.chars().filter(|c| ok_char(*c)).count())
    })
}

/// `arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:<resource>`; returns the resource part.
pub(crate) fn sagemaker_arn_resource(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (arn_, partition, service, region, account, resource) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let partition_ok = partition.strip_prefix("aws").is_some_and(|rest| rest.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
    let region_ok = region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let account_ok = account.len() == 12 && account.chars().all(|c| c.is_ascii_digit());
    (arn_ == "arn" && partition_ok && service == "sagemaker" && region_ok && account_ok && !resource.is_empty()).then_some(resource)
}

fn is_lifecycle_arn(arn: &str) -> bool {
    sagemaker_arn_resource(arn).is_some_and(|r| r.starts_with("studio-lifecycle-config/"))
}

fn is_role_arn(arn: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    let fields: Vec<&str> = (0..6).filter_map(|_| parts.next()).collect();
    let [arn_, partition, service, region, account, resource] = fields.as_slice() else {
        return false;
    };
    *arn_ == "arn"
        && partition.starts_with("aws")
        && *service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && resource.strip_prefix("role").is_some_and(|name| {
            let name = name.strip_prefix('/').unwrap_or(name);
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@-_/".contains(c))
        })
}

/// Tags: at most 50, key 1-128, value 0-256 (both required). Returns them in order.
pub(crate) fn tags(checks: &mut Checks, body: &Body, key: &str) -> ApiResult<Vec<(String, String)>> {
    let items = match body.get(key) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(wrong_type(key, "a list of tags")),
    };
    if items.len() > 50 {
        checks.fail(Some(&format!("{} tags", items.len())), key, "Member must have length less than or equal to 50");
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let tag = item.as_object().ok_or_else(|| wrong_type(key, "a list of tags"))?;
        let path = |m: &str| format!("{key}.{}.member.{m}", i + 1);
        let k = checks.required(&path("Key"), opt_str(tag, "Key")?);
        let v = checks.required(&path("Value"), opt_str(tag, "Value")?);
        let tag_chars = |s: &str| s.chars().all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c));
        if let Some(k) = k {
            checks.length(&path("Key"), k, 1, 128);
            checks.pattern(&path("Key"), k, tag_chars(k), TAG_PATTERN);
        }
        if let Some(v) = v {
            checks.length(&path("Value"), v, 0, 256);
            checks.pattern(&path("Value"), v, tag_chars(v), TAG_PATTERN);
        }
        if let (Some(k), Some(v)) = (k, v) {
            out.push((k.to_string(), v.to_string()));
        }
    }
    Ok(out)
}

/// The members of UserSettings / DefaultSpaceSettings / SpaceSettings that carry constraints
/// clients get wrong: the execution role, security groups and lifecycle config ARNs.
pub(crate) fn settings(checks: &mut Checks, body: &Body, key: &str) -> ApiResult<()> {
    let Some(settings) = opt_obj(body, key)? else {
        return Ok(());
    };
    if let Some(role) = opt_str(settings, "ExecutionRole")? {
        let path = format!("{key}.ExecutionRole");
        checks.length(&path, role, 20, 2048);
        checks.pattern(&path, role, is_role_arn(role), ROLE_PATTERN);
    }
    if let Some(groups) = opt_str_list(settings, "SecurityGroups")? {
        checks.count(&format!("{key}.SecurityGroups"), &groups, 0, 5);
    }
    for (app_key, app_settings) in settings.iter().filter(|(k, _)| k.ends_with("AppSettings")) {
        let Some(app_settings) = app_settings.as_object() else {
            return Err(wrong_type(&format!("{key}.{app_key}"), "an object"));
        };
        let path = format!("{key}.{app_key}");
        if let Some(arns) = opt_str_list(app_settings, "LifecycleConfigArns")? {
            for (i, arn) in arns.iter().enumerate() {
                checks.lifecycle_arn(&format!("{path}.LifecycleConfigArns.{}.member", i + 1), arn);
            }
        }
        resource_spec(checks, app_settings, &format!("{path}.DefaultResourceSpec"), "DefaultResourceSpec")?;
    }
    Ok(())
}

/// A ResourceSpec member (`key` in `body`, reported as `path`): its lifecycle config ARN.
pub(crate) fn resource_spec(checks: &mut Checks, body: &Body, path: &str, key: &str) -> ApiResult<()> {
    if let Some(spec) = opt_obj(body, key)?
        && let Some(arn) = opt_str(spec, "LifecycleConfigArn")?
    {
        checks.lifecycle_arn(&format!("{path}.LifecycleConfigArn"), arn);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_model_pattern() {
        assert!(is_name("a"));
        assert!(is_name("my-domain-1"));
        assert!(is_name("a--b"));
        assert!(!is_name(""));
        assert!(!is_name("-a"));
        assert!(!is_name("a-"));
        assert!(!is_name("my_domain"));
        assert!(!is_name(&"a".repeat(64)));
    }

    #[test]
    fn domain_ids_follow_the_model_pattern() {
        assert!(is_domain_id("d-abc123def456"));
        assert!(!is_domain_id("d-"));
        assert!(!is_domain_id("D-abc"));
        assert!(!is_domain_id("d-ABC"));
        assert!(!is_domain_id("abc"));
    }

    #[test]
    fn arns_are_recognised() {
        assert!(is_lifecycle_arn("arn:aws:sagemaker:us-east-1:123456789012:studio-lifecycle-config/x"));
        assert!(!is_lifecycle_arn("arn:aws:sagemaker:us-east-1:123456789012:notebook-instance-lifecycle-config/x"));
        assert!(is_role_arn("arn:aws:iam::123456789012:role/service-role/SageMakerRole"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:user/bob"));
        assert!(!is_role_arn("SageMakerRole"));
    }

    #[test]
    fn sagemaker_checks_name_the_member_in_camel_case() {
        let mut checks = Checks::default();
        checks.name("DomainName", "bad_name");
        checks.required::<&str>("DefaultUserSettings.ExecutionRole", None);
        let err = checks.finish().unwrap_err();
        assert_eq!(err.code, "ValidationException");
        assert!(err.message.starts_with("2 validation errors detected: Value 'bad_name' at 'domainName'"), "{}", err.message);
        assert!(err.message.contains("Value null at 'defaultUserSettings.executionRole'"), "{}", err.message);
    }
}
