//! SageMaker ARNs: `arn:<partition>:sagemaker:<region>:<account>:<resource-type>/<id>[/<name>]`.

use crate::names::{is_domain_id, is_name};

/// The resource part of a SageMaker ARN, by type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource_type: &'a str,
    /// After `<resource-type>/`.
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Any SageMaker ARN; None for anything else.
    pub fn parse(arn: &'a str) -> Option<Self> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let ["arn", partition, "sagemaker", region, account, resource] = parts.as_slice() else {
            return None;
        };
        let (resource_type, resource) = resource.split_once('/')?;
        Some(Self { partition, region, account, resource_type, resource })
    }

    /// `<resource_type>/<resource>` if the ARN is of that type.
    pub fn of_type(arn: &'a str, resource_type: &str) -> Option<&'a str> {
        Self::parse(arn).filter(|a| a.resource_type == resource_type).map(|a| a.resource)
    }
}

/// A domain's child (user profile or space) named by an ARN: `<type>/<domain-id>/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildKey {
    pub domain_id: String,
    pub name: String,
}

impl ChildKey {
    pub fn from_arn(arn: &str, resource_type: &str) -> Option<Self> {
        let (domain_id, name) = Arn::of_type(arn, resource_type)?.split_once('/')?;
        (is_domain_id(domain_id) && is_name(name)).then(|| Self { domain_id: domain_id.to_string(), name: name.to_string() })
    }

    /// A user profile ARN: `user-profile/<domain-id>/<name>`.
    pub fn user_profile(arn: &str) -> Option<Self> {
        Self::from_arn(arn, "user-profile")
    }

    /// A space ARN: `space/<domain-id>/<name>`.
    pub fn space(arn: &str) -> Option<Self> {
        Self::from_arn(arn, "space")
    }

    /// Names of profiles and spaces are not case sensitive (ARNs may show them in lower case).
    pub fn is(&self, domain_id: &str, name: &str) -> bool {
        self.domain_id == domain_id && self.name.eq_ignore_ascii_case(name)
    }
}

/// The DomainId in a domain ARN (`domain/d-xxxx`), or None.
pub fn domain_id(arn: &str) -> Option<&str> {
    Arn::of_type(arn, "domain").filter(|id| is_domain_id(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_are_recognised_by_type() {
        let key = ChildKey::user_profile("arn:aws:sagemaker:us-east-1:123456789012:user-profile/d-abc123/alice").unwrap();
        assert_eq!(key, ChildKey { domain_id: "d-abc123".into(), name: "alice".into() });
        assert!(key.is("d-abc123", "Alice"));
        assert!(ChildKey::user_profile("arn:aws:sagemaker:us-east-1:123456789012:space/d-abc123/alice").is_none());
        assert!(ChildKey::space("arn:aws:sagemaker:us-east-1:123456789012:space/d-abc123/s1").is_some());
        assert!(ChildKey::user_profile("arn:aws:iam::123456789012:user-profile/d-abc123/alice").is_none());
        assert!(ChildKey::user_profile("arn:aws:sagemaker:us-east-1:123456789012:user-profile/d-abc123/bad_name").is_none());
        assert_eq!(domain_id("arn:aws:sagemaker:us-east-1:123456789012:domain/d-abc123"), Some("d-abc123"));
        assert_eq!(Arn::of_type("arn:aws:sagemaker:r:1:studio-lifecycle-config/lab-1", "studio-lifecycle-config"), Some("lab-1"));
    }
}
