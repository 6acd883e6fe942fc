//! IAM Identity Center, for SSO domains: the account's instance, users and groups found by
//! name in its identity store, and their assignments to a domain's application (which decide
//! who sees the Studio tile and may sign in).

use crate::error::{AwsError, AwsResult, Kind, absent_if_not_found};
use aws_config::SdkConfig;
use aws_sdk_identitystore::types::{AlternateIdentifier, MemberId, UniqueAttribute};
use aws_sdk_ssoadmin::types::PrincipalType;
use aws_smithy_types::Document;
use std::sync::{Arc, OnceLock};
use tracing::info;

/// IsMemberInGroups takes at most this many group ids.
const MAX_GROUPS_PER_CHECK: usize = 100;

/// The sso-admin and identitystore clients (with the retry configuration of the others),
/// built on first use: only SSO domains and their profiles need them, and each SDK client
/// costs init time. Clones share them.
#[derive(Clone, Debug)]
pub struct IdentityCenter(Arc<Lazy>);

#[derive(Debug)]
struct Lazy {
    config: SdkConfig,
    sso_admin: OnceLock<aws_sdk_ssoadmin::Client>,
    identity_store: OnceLock<aws_sdk_identitystore::Client>,
}

/// An Identity Center instance and its identity store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub instance_arn: String,
    pub identity_store_id: String,
}

impl IdentityCenter {
    pub fn new(config: &SdkConfig) -> Self {
        Self(Arc::new(Lazy { config: config.clone(), sso_admin: OnceLock::new(), identity_store: OnceLock::new() }))
    }

    pub fn sso_admin(&self) -> &aws_sdk_ssoadmin::Client {
        self.0.sso_admin.get_or_init(|| aws_sdk_ssoadmin::Client::new(&self.0.config))
    }

    pub fn identity_store(&self) -> &aws_sdk_identitystore::Client {
        self.0.identity_store.get_or_init(|| aws_sdk_identitystore::Client::new(&self.0.config))
    }

    /// The instances of the account (SageMaker makes an SSO domain's application in the
    /// account's instance), with their identity stores.
    async fn instances(&self) -> Result<Vec<Instance>, AwsError> {
        let mut pages = self.sso_admin().list_instances().into_paginator().items().send();
        let mut instances = Vec::new();
        while let Some(instance) = pages.next().await {
            let instance = instance.aws("ListInstances")?;
            if let (Some(arn), Some(store)) = (instance.instance_arn(), instance.identity_store_id()) {
                instances.push(Instance { instance_arn: arn.to_string(), identity_store_id: store.to_string() });
            }
        }
        Ok(instances)
    }

    /// The instance a new SSO domain will use: None when the account has none.
    pub async fn account_instance(&self) -> Result<Option<Instance>, AwsError> {
        Ok(self.instances().await?.into_iter().next())
    }

    /// The instance holding an application (None when the application or its instance is gone).
    pub async fn instance_of(&self, application_arn: &str) -> Result<Option<Instance>, AwsError> {
        let described = self.sso_admin().describe_application().application_arn(application_arn).send().await.aws("DescribeApplication");
        let Some(instance_arn) = absent_if_not_found(described)?.and_then(|a| a.instance_arn().map(str::to_string)) else {
            return Ok(None);
        };
        Ok(self.instances().await?.into_iter().find(|i| i.instance_arn == instance_arn))
    }

    /// The UserId of the user signing in as `user_name`, None when there is no such user.
    pub async fn user_id(&self, identity_store_id: &str, user_name: &str) -> Result<Option<String>, AwsError> {
        let found = self
            .identity_store()
            .get_user_id()
            .identity_store_id(identity_store_id)
            .alternate_identifier(unique("GetUserId", "userName", user_name)?)
            .send()
            .await
            .aws("GetUserId");
        Ok(absent_if_not_found(found)?.map(|out| out.user_id().to_string()))
    }

    /// The GroupId of the group with this display name, None when there is no such group.
    pub async fn group_id(&self, identity_store_id: &str, display_name: &str) -> Result<Option<String>, AwsError> {
        let found = self
            .identity_store()
            .get_group_id()
            .identity_store_id(identity_store_id)
            .alternate_identifier(unique("GetGroupId", "displayName", display_name)?)
            .send()
            .await
            .aws("GetGroupId");
        Ok(absent_if_not_found(found)?.map(|out| out.group_id().to_string()))
    }

    /// Assigns a principal to the application; an assignment that exists already is fine.
    pub async fn assign(&self, application_arn: &str, principal_type: PrincipalType, principal_id: &str) -> Result<(), AwsError> {
        self.assign_new(application_arn, principal_type, principal_id).await.map(drop)
    }

    /// [`Self::assign`], telling whether this call made the assignment (false: it existed).
    pub async fn assign_new(&self, application_arn: &str, principal_type: PrincipalType, principal_id: &str) -> Result<bool, AwsError> {
        info!(ApplicationArn = application_arn, PrincipalType = principal_type.as_str(), PrincipalId = principal_id, "CreateApplicationAssignment");
        let created = self
            .sso_admin()
            .create_application_assignment()
            .application_arn(application_arn)
            .principal_type(principal_type)
            .principal_id(principal_id)
            .send()
            .await
            .aws("CreateApplicationAssignment");
        match created {
            Ok(_) => Ok(true),
            // What AWS answers for an existing assignment: it is there, which is what was asked.
            Err(e) if e.code() == Some("ConflictException") => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Removes a principal's assignment; one that is not there (or an application gone) is fine.
    pub async fn unassign(&self, application_arn: &str, principal_type: PrincipalType, principal_id: &str) -> Result<(), AwsError> {
        info!(ApplicationArn = application_arn, PrincipalType = principal_type.as_str(), PrincipalId = principal_id, "DeleteApplicationAssignment");
        let deleted = self
            .sso_admin()
            .delete_application_assignment()
            .application_arn(application_arn)
            .principal_type(principal_type)
            .principal_id(principal_id)
            .send()
            .await
            .aws("DeleteApplicationAssignment");
        absent_if_not_found(deleted).map(drop)
    }

    /// The principals assigned to the application directly (users and groups), by type and id.
    pub async fn assignments(&self, application_arn: &str) -> Result<Vec<(PrincipalType, String)>, AwsError> {
        let mut pages = self.sso_admin().list_application_assignments().application_arn(application_arn).into_paginator().items().send();
        let mut assigned = Vec::new();
        while let Some(assignment) = pages.next().await {
            let assignment = assignment.aws("ListApplicationAssignments")?;
            assigned.push((assignment.principal_type().clone(), assignment.principal_id().to_string()));
        }
        Ok(assigned)
    }

    /// Whether the user may use the application: assigned directly, or a member of an assigned group.
    pub async fn is_assigned(&self, identity_store_id: &str, application_arn: &str, user_id: &str) -> Result<bool, AwsError> {
        let mut pages = self.sso_admin().list_application_assignments().application_arn(application_arn).into_paginator().items().send();
        let mut groups = Vec::new();
        while let Some(assignment) = pages.next().await {
            let assignment = assignment.aws("ListApplicationAssignments")?;
            match assignment.principal_type() {
                PrincipalType::User if assignment.principal_id() == user_id => return Ok(true),
                PrincipalType::Group => groups.push(assignment.principal_id().to_string()),
                _ => {}
            }
        }
        for chunk in groups.chunks(MAX_GROUPS_PER_CHECK) {
            let answer = self
                .identity_store()
                .is_member_in_groups()
                .identity_store_id(identity_store_id)
                .member_id(MemberId::UserId(user_id.to_string()))
                .set_group_ids(Some(chunk.to_vec()))
                .send()
                .await
                .aws("IsMemberInGroups")?;
            if answer.results().iter().any(|r| r.membership_exists()) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// An identity store look-up by a unique attribute (a SCIM path such as `userName`).
fn unique(operation: &'static str, path: &str, value: &str) -> Result<AlternateIdentifier, AwsError> {
    UniqueAttribute::builder()
        .attribute_path(path)
        .attribute_value(Document::String(value.to_string()))
        .build()
        .map(AlternateIdentifier::UniqueAttribute)
        .map_err(|e| AwsError { operation, kind: Kind::Other, code: None, message: None, detail: Some(e.to_string()) })
}
