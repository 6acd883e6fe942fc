//! studio-domain's ExistingDomainId end to end: a domain made with the SDK (as in the console),
//! adopted with its owner's consent, updated, released by its Delete; refused without consent,
//! from another stack, or when what SageMaker cannot change differs; DeleteAdopted.

use crate::domain::{cloud, domain, seed_users, succeeded, tags, with};
use aws_sdk_sagemaker::types::{AuthMode, Tag, UserSettings};
use local_cloud::cloud::LocalCloud;
use serde_json::{Value, json};
use studio::delete_options::TAG as DELETE_OPTIONS;
use studio::ownership::{ADOPTABLE_BY, ADOPTED, LOGICAL_ID, STACK_ID};

const FUNCTION: &str = "studio-domain";
const LOGICAL_ID_HERE: &str = "AdoptedDomain";
const ROLE: &str = "arn:aws:iam::123456789012:role/studio-execution";

fn stack_name(cloud: &LocalCloud) -> String {
    cloud.cfn.stack_id().split('/').nth(1).unwrap().to_string()
}

/// A domain made with the SDK, not by a function; `consent`: the value of its adoptable-by tag.
async fn console_domain(cloud: &LocalCloud, name: &str, consent: Option<&str>) -> String {
    made_domain(cloud, name, AuthMode::Iam, &["subnet-0a", "subnet-0b"], consent).await
}

async fn made_domain(cloud: &LocalCloud, name: &str, auth_mode: AuthMode, subnets: &[&str], consent: Option<&str>) -> String {
    let tags: Vec<Tag> = consent.map(|value| Tag::builder().key(ADOPTABLE_BY).value(value).build()).into_iter().collect();
    let made = cloud
        .sagemaker_client()
        .create_domain()
        .domain_name(name)
        .auth_mode(auth_mode)
        .default_user_settings(UserSettings::builder().execution_role(ROLE).build())
        .set_subnet_ids(Some(subnets.iter().map(|s| s.to_string()).collect()))
        .vpc_id("vpc-0a1b2c3d")
        .set_tags(Some(tags))
        .send()
        .await
        .expect("CreateDomain");
    local_cloud::seed::settled(cloud).await;
    made.domain_id().unwrap().to_string()
}

/// The template that adopts `id`: the domain's name, auth mode and VPC, settings of its own.
fn adopting(name: &str, id: &str) -> Value {
    json!({
        "ExistingDomainId": id,
        "DomainName": name,
        "AuthMode": "IAM",
        "VpcId": "vpc-0a1b2c3d",
        "SubnetIds": ["subnet-0a", "subnet-0b"],
        "DefaultUserSettings": {
            "ExecutionRole": ROLE,
            "SecurityGroups": ["sg-0studio"],
            "JupyterLabAppSettings": {"AppLifecycleManagement": {"IdleSettings": {"LifecycleManagement": "ENABLED", "IdleTimeoutInMinutes": 120}}}
        },
        "Tags": [{"Key": "team", "Value": "research"}]
    })
}

/// The domain's tags are a map, key -> value.
fn tag(cloud: &LocalCloud, id: &str, key: &str) -> Option<String> {
    tags(cloud, id)[key].as_str().map(str::to_string)
}

fn reserved_keys(cloud: &LocalCloud, id: &str) -> Vec<String> {
    tags(cloud, id).as_object().into_iter().flatten().map(|(k, _)| k.clone()).filter(|k| k.starts_with("studio-cfn:")).collect()
}

#[tokio::test]
async fn a_consenting_domain_is_adopted_updated_and_released_with_its_users_untouched() {
    let cloud = cloud().await;
    let id = console_domain(&cloud, "console-made", Some(&format!("other-stack {}", stack_name(&cloud)))).await;
    seed_users(&cloud, &id).await;
    let efs = domain(&cloud, &id).unwrap()["HomeEfsFileSystemId"].clone();

    let r = cloud.cfn.create(FUNCTION, LOGICAL_ID_HERE, adopting("console-made", &id)).await.unwrap();
    let reason = succeeded(&r);
    assert_eq!(r.physical_resource_id, id);
    assert_eq!(cloud.sagemaker.call_count("CreateDomain"), 1, "only the SDK's");
    assert!(reason.starts_with(&format!("adopted domain {id}")), "{reason}");
    assert!(reason.contains("DefaultUserSettings.SecurityGroups") && reason.contains("tags set: team=research"), "{reason}");
    assert_eq!(tag(&cloud, &id, ADOPTED).as_deref(), Some("true"));
    assert_eq!(tag(&cloud, &id, LOGICAL_ID).as_deref(), Some(LOGICAL_ID_HERE));
    assert_eq!(tag(&cloud, &id, ADOPTABLE_BY), None, "the consent is used up");
    let live = domain(&cloud, &id).unwrap();
    assert_eq!(live["DefaultUserSettings"]["SecurityGroups"], json!(["sg-0studio"]));
    assert_eq!(live["Status"], "InService");

    // An update names what it sent, old -> new.
    let (old, new) = (adopting("console-made", &id), with(adopting("console-made", &id), "TagPropagation", json!("ENABLED")));
    let reason = succeeded(&cloud.cfn.update(FUNCTION, LOGICAL_ID_HERE, &id, new.clone(), old).await.unwrap());
    assert!(reason.contains("sent: TagPropagation (DISABLED -> ENABLED)") || reason.contains("sent: TagPropagation ((unset) -> ENABLED)"), "{reason}");
    // Changed outside the stack between two deployments: put back, and said so.
    cloud
        .sagemaker_client()
        .update_domain()
        .domain_id(&id)
        .default_user_settings(UserSettings::builder().security_groups("sg-0console").build())
        .send()
        .await
        .unwrap();
    local_cloud::seed::settled(&cloud).await;
    let retagged = with(new.clone(), "Tags", json!([{"Key": "team", "Value": "ml"}]));
    let reason = succeeded(&cloud.cfn.update(FUNCTION, LOGICAL_ID_HERE, &id, retagged.clone(), new).await.unwrap());
    assert!(reason.contains("drift corrected: DefaultUserSettings.SecurityGroups") && reason.contains("tags set: team=ml"), "{reason}");
    assert_eq!(domain(&cloud, &id).unwrap()["DefaultUserSettings"]["SecurityGroups"], json!(["sg-0studio"]));
    // Nothing to do: said so.
    let reason = succeeded(&cloud.cfn.update(FUNCTION, LOGICAL_ID_HERE, &id, retagged.clone(), retagged.clone()).await.unwrap());
    assert!(reason.ends_with("no change"), "{reason}");

    // Delete releases: the domain, its users, apps and home EFS stay; only our tags go.
    let reason = succeeded(&cloud.cfn.delete(FUNCTION, LOGICAL_ID_HERE, &id, retagged).await.unwrap());
    assert!(reason.starts_with(&format!("released domain {id}")), "{reason}");
    let live = domain(&cloud, &id).expect("still there");
    assert_eq!((live["Status"].clone(), live["HomeEfsFileSystemId"].clone()), (json!("InService"), efs));
    assert!(reserved_keys(&cloud, &id).is_empty(), "{:?}", tags(&cloud, &id));
    assert_eq!(tag(&cloud, &id, "team").as_deref(), Some("ml"), "the template's tags stay with the domain");
    for operation in ["DeleteDomain", "DeleteUserProfile", "DeleteSpace", "DeleteApp"] {
        assert_eq!(cloud.sagemaker.call_count(operation), 0, "{operation}");
    }
}

#[tokio::test]
async fn what_sagemaker_cannot_change_must_match_and_nothing_changes_when_it_does_not() {
    let cloud = cloud().await;
    let id = console_domain(&cloud, "console-made", Some(&stack_name(&cloud))).await;
    let before = tags(&cloud, &id);
    let differing = with(with(adopting("console-made", &id), "AuthMode", json!("SSO")), "VpcId", json!("vpc-0other"));
    let r = cloud.cfn.create(FUNCTION, LOGICAL_ID_HERE, differing).await.unwrap();
    r.expect_failed_naming(&["ExistingDomainId", "AuthMode", "\"IAM\"", "VpcId", "vpc-0other", "nothing was changed"]);
    assert_ne!(r.physical_resource_id, id, "a failed adoption does not name the domain");
    assert_eq!(tags(&cloud, &id), before);
    for operation in ["AddTags", "DeleteTags", "UpdateDomain"] {
        assert_eq!(cloud.sagemaker.call_count(operation), 0, "{operation}");
    }
}

#[tokio::test]
async fn a_domain_is_adopted_only_with_its_owner_s_consent_and_never_from_another_stack() {
    let cloud = cloud().await;
    let here = stack_name(&cloud);
    let no_consent = console_domain(&cloud, "no-consent", None).await;
    let r = cloud.cfn.create(FUNCTION, LOGICAL_ID_HERE, adopting("no-consent", &no_consent)).await.unwrap();
    r.expect_failed_naming(&[ADOPTABLE_BY, "aws sagemaker add-tags", &format!("Value={here}")]);
    let someone_else = console_domain(&cloud, "for-someone-else", Some("team-b team-c")).await;
    cloud.cfn.create(FUNCTION, LOGICAL_ID_HERE, adopting("for-someone-else", &someone_else)).await.unwrap().expect_failed_naming(&[ADOPTABLE_BY]);

    // Made by this stack's function for another logical id, then tagged adoptable: still refused.
    let theirs = cloud.cfn.create(FUNCTION, "TheirDomain", adopting("theirs", "d-unused000000")).await.unwrap();
    theirs.expect_failed_naming(&["ExistingDomainId"]);
    let mut props = adopting("theirs", "d-unused000000");
    props.as_object_mut().unwrap().remove("ExistingDomainId");
    let theirs = cloud.cfn.create(FUNCTION, "TheirDomain", props).await.unwrap();
    theirs.expect_success();
    let theirs = theirs.physical_resource_id.clone();
    let arn = domain(&cloud, &theirs).unwrap()["DomainArn"].as_str().unwrap().to_string();
    cloud.sagemaker_client().add_tags().resource_arn(arn).tags(Tag::builder().key(ADOPTABLE_BY).value(&here).build()).send().await.unwrap();
    let r = cloud.cfn.create(FUNCTION, LOGICAL_ID_HERE, adopting("theirs", &theirs)).await.unwrap();
    r.expect_failed_naming(&["belongs to stack", "TheirDomain", "never taken"]);
    assert_eq!(tag(&cloud, &theirs, LOGICAL_ID).as_deref(), Some("TheirDomain"));
    assert_eq!(tag(&cloud, &no_consent, STACK_ID), None);
}

#[tokio::test]
async fn delete_adopted_counts_once_an_update_recorded_it_and_a_forged_one_only_releases() {
    let cloud = cloud().await;
    let here = stack_name(&cloud);
    // Adopted without DeleteAdopted: a Delete event asking it releases all the same.
    let kept = console_domain(&cloud, "kept", Some(&here)).await;
    succeeded(&cloud.cfn.create(FUNCTION, "Kept", adopting("kept", &kept)).await.unwrap());
    let asking = with(with(adopting("kept", &kept), "DeleteAdopted", json!(true)), "ForceDelete", json!(true));
    let reason = succeeded(&cloud.cfn.delete(FUNCTION, "Kept", &kept, asking).await.unwrap());
    assert!(reason.starts_with("released") && reason.contains("DeleteAdopted true ignored"), "{reason}");
    assert!(domain(&cloud, &kept).is_some());

    // The adopting Create records the conservative options whatever its template asks (a Create
    // forged inside the adoption's window could otherwise arm a Delete); an Update records them.
    let deleted = console_domain(&cloud, "deleted", Some(&here)).await;
    seed_users(&cloud, &deleted).await;
    let harsh = with(with(adopting("deleted", &deleted), "DeleteAdopted", json!(true)), "ForceDelete", json!(true));
    succeeded(&cloud.cfn.create(FUNCTION, "Deleted", harsh.clone()).await.unwrap());
    assert_eq!(
        tag(&cloud, &deleted, DELETE_OPTIONS).as_deref(),
        Some("ForceDelete=false RetentionPolicy.HomeEfsFileSystem=Retain DeleteNfsSecurityGroups=false DeleteAdopted=false")
    );
    succeeded(&cloud.cfn.update(FUNCTION, "Deleted", &deleted, harsh.clone(), harsh.clone()).await.unwrap());
    assert!(
        tag(&cloud, &deleted, DELETE_OPTIONS).unwrap().contains("ForceDelete=true")
            && tag(&cloud, &deleted, DELETE_OPTIONS).unwrap().contains("DeleteAdopted=true")
    );
    // Then its Delete follows the usual rules: apps, spaces and profiles (ForceDelete), the domain.
    succeeded(&cloud.cfn.delete(FUNCTION, "Deleted", &deleted, harsh).await.unwrap());
    assert!(domain(&cloud, &deleted).is_none());
    assert_eq!(cloud.sagemaker.call_count("DeleteDomain"), 1);
    assert!(cloud.sagemaker.call_count("DeleteUserProfile") >= 1);
}

#[tokio::test]
async fn the_rollback_of_an_adoption_that_failed_after_tagging_releases_the_domain() {
    let cloud = cloud().await;
    let id = console_domain(&cloud, "half", Some(&stack_name(&cloud))).await;
    let props = with(adopting("half", &id), "DeleteAdopted", json!(true));
    cloud.sagemaker.refuse_next("UpdateDomain", "ValidationException", "The execution role cannot be assumed");
    let r = cloud.cfn.create(FUNCTION, LOGICAL_ID_HERE, props.clone()).await.unwrap();
    r.expect_failed_naming(&["UpdateDomain", "cannot be assumed"]);
    assert_eq!(r.physical_resource_id, id, "named, so that the rollback's Delete releases it");
    assert_eq!(tag(&cloud, &id, ADOPTED).as_deref(), Some("true"));
    // CloudFormation's rollback: a Delete of what the failed Create named, with its properties.
    let reason = succeeded(&cloud.cfn.delete(FUNCTION, LOGICAL_ID_HERE, &id, props).await.unwrap());
    assert!(reason.starts_with("released"), "DeleteAdopted was never recorded: {reason}");
    assert_eq!(domain(&cloud, &id).unwrap()["Status"], "InService");
    assert!(reserved_keys(&cloud, &id).is_empty());
}

/// The Properties of `logical_id` in one of examples/cloudformation's templates, with each
/// `!Ref` and `!GetAtt` resolved from `parameters` (ServiceToken left out: the driver invokes the
/// function).
pub(crate) fn example_properties(template: &str, logical_id: &str, parameters: &[(&str, Value)]) -> Value {
    let path = format!("{}/examples/cloudformation/{template}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("example template");
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("example template parses");
    let mut properties = yaml["Resources"][logical_id]["Properties"].clone();
    properties.as_mapping_mut().expect("Properties").remove("ServiceToken");
    resolve(&properties, parameters)
}

fn resolve(value: &serde_yaml::Value, parameters: &[(&str, Value)]) -> Value {
    use serde_yaml::Value as Yaml;
    match value {
        Yaml::Tagged(tagged) if tagged.tag == "Ref" || tagged.tag == "GetAtt" => {
            let name = tagged.value.as_str().expect("!Ref and !GetAtt name a parameter or an attribute");
            parameters.iter().find(|(p, _)| *p == name).map(|(_, v)| v.clone()).unwrap_or_else(|| panic!("no value for parameter {name}"))
        }
        Yaml::Tagged(tagged) => panic!("the test resolves only !Ref, not !{}", tagged.tag),
        Yaml::Mapping(members) => Value::Object(members.iter().map(|(k, v)| (k.as_str().expect("key").to_string(), resolve(v, parameters))).collect()),
        Yaml::Sequence(items) => Value::Array(items.iter().map(|item| resolve(item, parameters)).collect()),
        scalar => serde_json::to_value(scalar).expect("a scalar"),
    }
}

/// README "Bringing an existing domain under a stack", from AWS::SageMaker::Domain: the domain
/// stays when its resource leaves the native stack (DeletionPolicy Retain), its owner tags it
/// adoptable by the new stack, and examples/cloudformation/adopt-domain.yaml adopts it. Every
/// user's home directory (the home EFS and each profile's uid on it) is where it was.
#[tokio::test]
async fn the_migration_guide_s_template_adopts_the_domain_and_every_home_directory_stays() {
    let cloud = cloud().await;
    // What the native stack leaves behind: the domain, its users and their work.
    let id = console_domain(&cloud, "from-native", None).await;
    seed_users(&cloud, &id).await;
    let before = domain(&cloud, &id).unwrap();
    let homes = |cloud: &LocalCloud| -> Vec<Value> {
        let snapshot = cloud.sagemaker.snapshot();
        snapshot["profiles"].as_array().into_iter().flatten().map(|p| json!([p["UserProfileName"], p["HomeEfsFileSystemUid"]])).collect()
    };
    let homes_before = homes(&cloud);
    assert!(!homes_before.is_empty());

    // The guide's consent step: aws sagemaker add-tags --resource-arn <arn> --tags Key=studio-cfn:adoptable-by,Value=<stack>
    let consent = Tag::builder().key(ADOPTABLE_BY).value(stack_name(&cloud)).build();
    cloud.sagemaker_client().add_tags().resource_arn(before["DomainArn"].as_str().unwrap()).tags(consent).send().await.unwrap();

    let properties = example_properties(
        "adopt-domain.yaml",
        "Domain",
        &[
            ("ExistingDomainId", json!(id)),
            ("DomainName", json!("from-native")),
            ("VpcId", json!("vpc-0a1b2c3d")),
            ("SubnetIds", json!(["subnet-0a", "subnet-0b"])),
            ("ExecutionRoleArn", json!(ROLE)),
            ("AWS::StackName", json!(stack_name(&cloud))),
        ],
    );
    let r = cloud.cfn.create(FUNCTION, "Domain", properties.clone()).await.unwrap();
    let reason = succeeded(&r);
    assert!(reason.starts_with(&format!("adopted domain {id}")) && reason.contains("IdleTimeoutInMinutes ((unset) -> 120)"), "{reason}");
    assert_eq!(r.data["HomeEfsFileSystemId"], before["HomeEfsFileSystemId"].as_str().unwrap());
    assert_eq!(homes(&cloud), homes_before);
    assert_eq!(cloud.sagemaker.call_count("CreateDomain"), 1, "only the native stack's");

    // Deleting the new stack hands the domain back; nobody's home directory goes.
    let reason = succeeded(&cloud.cfn.delete(FUNCTION, "Domain", &id, properties).await.unwrap());
    assert!(reason.starts_with("released"), "{reason}");
    assert_eq!(domain(&cloud, &id).unwrap()["HomeEfsFileSystemId"], before["HomeEfsFileSystemId"]);
    assert_eq!(homes(&cloud), homes_before);
}

/// An SSO domain made in the console: the template's users are assigned at the adoption, and
/// the release leaves every assignment (people keep signing in; the domain is handed back).
#[tokio::test]
async fn an_sso_domain_is_adopted_with_the_template_s_assignments_and_released_keeping_them() {
    let cloud = cloud().await;
    let alice = cloud.identity_center.add_user("alice");
    let id = made_domain(&cloud, "sso-console", AuthMode::Sso, &["subnet-0a"], Some(&stack_name(&cloud))).await;
    let app = domain(&cloud, &id).unwrap()["SingleSignOnApplicationArn"].as_str().expect("an SSO domain's application").to_string();
    let props = json!({
        "ExistingDomainId": id, "DomainName": "sso-console", "AuthMode": "SSO", "VpcId": "vpc-0a1b2c3d", "SubnetIds": ["subnet-0a"],
        "DefaultUserSettings": {"ExecutionRole": ROLE}, "SingleSignOnUsers": ["alice"]
    });
    let r = cloud.cfn.create(FUNCTION, LOGICAL_ID_HERE, props.clone()).await.unwrap();
    let reason = succeeded(&r);
    assert!(reason.contains("assignments added: user alice"), "{reason}");
    assert_eq!(r.data["SingleSignOnApplicationArn"], app);
    let assigned = |cloud: &LocalCloud| cloud.identity_center.assignments(&app).iter().any(|a| a.principal_id == alice);
    assert!(assigned(&cloud));
    assert!(tag(&cloud, &id, "studio-cfn:sso-assigned").is_some(), "the assignment it made is recorded");

    let reason = succeeded(&cloud.cfn.delete(FUNCTION, LOGICAL_ID_HERE, &id, props).await.unwrap());
    assert!(reason.starts_with("released"), "{reason}");
    assert!(assigned(&cloud), "a release removes no assignment");
    assert!(reserved_keys(&cloud, &id).is_empty(), "the record goes with the other tags of ours");
    assert_eq!(cloud.identity_center.call_count("DeleteApplicationAssignment"), 0);
}

/// README "Bringing an existing domain under a stack", from a console-made SSO domain with the
/// profile SageMaker made at a user's first sign-in: examples/cloudformation/adopt-sso-domain.yaml
/// adopts both (the profile without a consent tag of its own: its domain is the stack's now);
/// deleting the stack releases both, the profile's home directory where it was.
#[tokio::test]
async fn the_sso_migration_template_adopts_the_domain_and_its_sso_made_profile() {
    const PROFILE: &str = "studio-user-profile";
    let cloud = cloud().await;
    cloud.deploy(PROFILE).await.expect("deploy studio-user-profile");
    cloud.identity_center.add_user("dana@example.com");
    let sm = cloud.sagemaker_client();
    let id = made_domain(&cloud, "sso-console", AuthMode::Sso, &["subnet-0a"], Some(&stack_name(&cloud))).await;
    // What SageMaker makes when dana first opens Studio.
    sm.create_user_profile()
        .domain_id(&id)
        .user_profile_name("dana-1a2b3c")
        .single_sign_on_user_identifier("UserName")
        .single_sign_on_user_value("dana@example.com")
        .send()
        .await
        .unwrap();
    local_cloud::seed::settled(&cloud).await;
    let home = |cloud: &LocalCloud| {
        let snapshot = cloud.sagemaker.snapshot();
        snapshot["profiles"].as_array().into_iter().flatten().find(|p| p["UserProfileName"] == "dana-1a2b3c").map(|p| p["HomeEfsFileSystemUid"].clone())
    };
    let home_before = home(&cloud).expect("dana's profile");

    let mut parameters = vec![
        ("ExistingDomainId", json!(id)),
        ("DomainName", json!("sso-console")),
        ("VpcId", json!("vpc-0a1b2c3d")),
        ("SubnetIds", json!(["subnet-0a"])),
        ("ExecutionRoleArn", json!(ROLE)),
        ("UserName", json!("dana@example.com")),
        ("UserProfileName", json!("dana-1a2b3c")),
        ("AWS::StackName", json!(stack_name(&cloud))),
    ];
    let domain_properties = example_properties("adopt-sso-domain.yaml", "Domain", &parameters);
    let r = cloud.cfn.create(FUNCTION, "Domain", domain_properties.clone()).await.unwrap();
    assert!(succeeded(&r).starts_with(&format!("adopted domain {id}")));
    parameters.push(("Domain.DomainId", json!(r.data["DomainId"])));
    let profile_properties = example_properties("adopt-sso-domain.yaml", "UserProfile", &parameters);
    let p = cloud.cfn.create(PROFILE, "UserProfile", profile_properties.clone()).await.unwrap();
    assert!(succeeded(&p).starts_with("adopted user profile dana-1a2b3c"), "{}", succeeded(&p));
    assert_eq!(cloud.sagemaker.call_count("CreateUserProfile"), 1, "only SageMaker's own");
    assert_eq!(home(&cloud), Some(home_before.clone()));

    // The stack's Delete: the profile first, then the domain; both released.
    let released = succeeded(&cloud.cfn.delete(PROFILE, "UserProfile", &p.physical_resource_id, profile_properties).await.unwrap());
    assert!(released.starts_with("released user profile dana-1a2b3c"), "{released}");
    assert!(succeeded(&cloud.cfn.delete(FUNCTION, "Domain", &id, domain_properties).await.unwrap()).starts_with("released"));
    assert_eq!(home(&cloud), Some(home_before));
    assert_eq!(domain(&cloud, &id).unwrap()["Status"], "InService");
    assert!(reserved_keys(&cloud, &id).is_empty());
}
