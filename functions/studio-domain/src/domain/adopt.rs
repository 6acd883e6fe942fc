//! ExistingDomainId: a Create that takes over a domain that exists (made in the console, by
//! `AWS::SageMaker::Domain`, ...) instead of making one, with its owner's consent (see
//! `studio::adoption`); its Delete releases it unless DeleteAdopted (teardown.rs).
//!
//! Nothing changes before every check passed: the consent tag names this stack, no other stack
//! resource owns the domain, and what SageMaker cannot change (DomainName, AuthMode, VpcId,
//! KmsKeyId, a home EFS turned off) is the template's. Then the domain is tagged as this
//! resource's, and from there on every answer names it, so that the rollback of a failed
//! adoption releases it. The template's settings, tags and assignments are applied like an
//! Update's, with no old template (only what the template sets changes). The delete options
//! are recorded last, and conservative whatever the template says (no DeleteAdopted, no
//! ForceDelete, home EFS retained): a Create forged while the adoption's window is open could
//! otherwise record harsher ones on a domain full of users' data, for a forged Delete to use
//! (say, during the rollback of the real adoption). So a rollback releases, and the template's
//! options count once a stack Update recorded them.

use super::{Applied, CreateProgress, StudioDomain, done, identity, sso_application};
use crate::properties::Properties;
use crate::sso;
use crate::teardown::reason;
use aws_sdk_sagemaker::operation::describe_domain::DescribeDomainOutput;
use aws_sdk_sagemaker::types::DomainStatus;
use custom_resource::{Error, Outcome, Pending, PropertyError, Step};
use studio::{Owner, adoption, describe, tags};
use tracing::info;

type StepResult = Result<Outcome<CreateProgress>, Error>;

impl StudioDomain {
    /// The first step of an adopting Create.
    pub(super) async fn start_adopt(&self, step: &Step, p: &Properties, domain_id: &str) -> StepResult {
        if sso::names_any(p) {
            // A typo in a name fails here, with nothing changed.
            let Some(domain) = describe::domain(&self.sagemaker, domain_id).await? else {
                return Err(missing(domain_id));
            };
            let instance = sso::instance_of(&self.identity_center, sso_application(&domain)?).await?;
            let (users, groups) = sso::template_names(p);
            sso::resolve(&self.identity_center, &instance.identity_store_id, &users, &groups).await?;
        }
        let Some(domain) = describe::domain(&self.sagemaker, domain_id).await? else {
            return Err(missing(domain_id));
        };
        let arn = domain.domain_arn().ok_or_else(|| Error::new(format!("DescribeDomain {domain_id} returned no DomainArn")))?;
        let current = tags::list(&self.sagemaker, arn).await?;
        let request = step.request();
        let owner = Owner::from(request);
        let what = format!("domain {domain_id}");
        adoption::check(&owner, &current, &what, arn, adoption::consents(&current, &request.stack_id))
            .map_err(|refused| PropertyError::new("ExistingDomainId", refused))?;
        let differences = differences(p, &domain);
        if !differences.is_empty() {
            return Err(PropertyError::new(
                "ExistingDomainId",
                format!(
                    "domain {domain_id} differs from the template in what SageMaker cannot change: {}. Set the template's to the domain's; \
                     nothing was changed",
                    differences.join("; ")
                ),
            )
            .into());
        }
        match domain.status() {
            Some(DomainStatus::InService | DomainStatus::UpdateFailed) => {}
            Some(DomainStatus::Pending | DomainStatus::Updating) => {
                return Err(Error::new(format!("domain {domain_id} is busy ({}); adopting it once that is over", status(&domain))).retry_later());
            }
            _ => return Err(Error::new(format!("domain {domain_id} is {}{}: it cannot be adopted; nothing was changed", status(&domain), reason(&domain)))),
        }
        // From here on the domain is this resource's: every answer names it.
        let (add, remove) = adoption::take(&owner, &current);
        info!(DomainId = domain_id, "adopting the domain: its owner consents");
        tags::apply(&self.sagemaker, arn, add, remove).await.map_err(|e| Error::from(e).for_resource(domain_id))?;
        let current = tags::list(&self.sagemaker, arn).await.map_err(|e| Error::from(e).for_resource(domain_id))?;
        let head = format!("adopted domain {domain_id} (ownership tags added, {} removed)", studio::ownership::ADOPTABLE_BY);
        let record = p.adoption_delete_options_record();
        match self.apply_template(&domain, &current, p, None, head, record).await.map_err(|e| e.for_resource(domain_id))? {
            Applied::Done(summary) => Ok(done(domain_id, &domain).reason(summary).into()),
            Applied::Updating(summary) => Ok(adopting(domain_id, summary)),
        }
    }

    /// After the adoption's UpdateDomain: InService -> the template recorded, SUCCESS.
    pub(super) async fn wait_adopted(&self, step: &Step, p: &Properties, domain_id: &str, summary: String) -> StepResult {
        let fail = |e: Error| e.for_resource(domain_id);
        let Some(domain) = describe::domain(&self.sagemaker, domain_id).await.map_err(|e| fail(e.into()))? else {
            return Err(Error::new(format!("domain {domain_id} disappeared while being adopted (deleted outside this stack)")));
        };
        match domain.status() {
            Some(DomainStatus::InService) => {
                // Progress is a hint: the record is written only on this stack resource's domain.
                let current = tags::list(&self.sagemaker, domain.domain_arn().unwrap_or_default()).await.map_err(|e| fail(e.into()))?;
                Owner::from(step.request()).guard(&current, format!("domain {domain_id}")).map_err(|e| Error::new(e.on_update()))?;
                self.record_template(&domain, &current, p, p.adoption_delete_options_record()).await.map_err(fail)?;
                Ok(done(domain_id, &domain).reason(summary).into())
            }
            Some(DomainStatus::Updating | DomainStatus::Pending) => Ok(adopting(domain_id, summary)),
            _ => Err(fail(Error::new(format!(
                "domain {domain_id} is {} instead of finishing the adoption's update{}; it stays this stack's until the rollback releases it",
                status(&domain),
                reason(&domain)
            )))),
        }
    }
}

fn adopting(domain_id: &str, summary: String) -> Outcome<CreateProgress> {
    Pending::new(CreateProgress::Adopting { domain_id: domain_id.to_string(), summary }, format!("adopted domain {domain_id} to finish updating"))
        .resource(domain_id)
        .into()
}

fn missing(domain_id: &str) -> Error {
    PropertyError::new("ExistingDomainId", format!("domain {domain_id} does not exist (DescribeDomain: ResourceNotFound)")).into()
}

fn status(domain: &DescribeDomainOutput) -> &str {
    domain.status().map(|s| s.as_str()).unwrap_or("without a status")
}

/// What SageMaker cannot change on the domain that the template says otherwise, each as
/// "AuthMode: the domain's IAM, the template's SSO".
fn differences(p: &Properties, domain: &DescribeDomainOutput) -> Vec<String> {
    let (live, wanted) = (identity(domain), p.identity());
    let shown = |value: Option<&str>| value.map(|v| format!("{v:?}")).unwrap_or_else(|| "none".to_string());
    p.replaced_members(&live)
        .into_iter()
        .map(|member| {
            let (theirs, ours) = match member {
                "DomainName" => (shown(Some(&live.domain_name)), shown(Some(&wanted.domain_name))),
                "AuthMode" => (shown(Some(&live.auth_mode)), shown(Some(&wanted.auth_mode))),
                "VpcId" => (shown(Some(&live.vpc_id)), shown(Some(&wanted.vpc_id))),
                "KmsKeyId" => (shown(live.kms_key_id.as_deref()), shown(wanted.kms_key_id.as_deref())),
                _ => ("\"Enabled\" (it has a home EFS)".to_string(), "\"Disabled\"".to_string()),
            };
            format!("{member}: the domain's {theirs}, the template's {ours}")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sagemaker::types::AuthMode;
    use serde_json::json;

    #[test]
    fn each_member_sagemaker_cannot_change_is_named_with_both_values() {
        let value = json!({
            "DomainName": "research", "AuthMode": "SSO", "VpcId": "vpc-0a", "SubnetIds": ["subnet-0a"],
            "DefaultUserSettings": {}, "ExistingDomainId": "d-abc123"
        });
        let p: Properties = custom_resource::properties::parse(value.as_object().unwrap()).unwrap();
        let domain = DescribeDomainOutput::builder().domain_name("research").auth_mode(AuthMode::Iam).vpc_id("vpc-0b").build();
        assert_eq!(
            differences(&p, &domain),
            [r#"AuthMode: the domain's "IAM", the template's "SSO""#, r#"VpcId: the domain's "vpc-0b", the template's "vpc-0a""#]
        );
        let same = DescribeDomainOutput::builder().domain_name("research").auth_mode(AuthMode::Sso).vpc_id("vpc-0a").build();
        assert!(differences(&p, &same).is_empty());
    }
}
