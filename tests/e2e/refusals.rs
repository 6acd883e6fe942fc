//! How the functions answer the refusals SageMaker documents (issue 24 item 6), end to end: each
//! case plays a CloudFormation Create or Update whose properties meet one
//! `sagemaker_emulator::Refusal`, and asserts FAILED with a Reason naming the property path or
//! SageMaker's operation and message, and nothing left behind (no resource made, or the old
//! settings unchanged). Where the function forwards SageMaker's ValidationException, the knob
//! (`set_refusal(.., false)`) shows the same event succeeding, so the emulator's refusal is what
//! failed it; where the function refuses first, no mutating call reached SageMaker.
//!
//! Covered (studio-domain): AmazonQNeedsSso, StudioLandingNeedsWebPortal,
//! DefaultAsDomainOnlyForProfiles, SecurityGroupsLeaveRoomForNfs, RStudioSecurityGroupManagement
//! (Create, forwarded, each with the knob); DisableHomeEfs and VpcIdFixed (Update: the function
//! asks for a replacement before any UpdateDomain); RStudioNetworkAccess (Update, forwarded, with
//! the knob); VpcOnlyNeedsNetwork (never met: the function sends VpcId and SubnetIds with the
//! switch, so the Update succeeds with the refusal on).
//! Covered (studio-user-profile): SsoIdentifiers and SsoUserMustExist (refused by the function
//! before any CreateUserProfile, the second after asking the identity store), and, forwarded
//! with the knob, VpcOnlyProfileSecurityGroups, SecurityGroupsLeaveRoomForNfs and
//! StudioLandingNeedsWebPortal (Create; the last two on Update too, without the knob).
//! Covered (studio-space): PrivateSpaceNeedsOwner, UpdateSpaceAppType and EbsOnlyGrows: the
//! function refuses each before any mutating call (an unchanged AppType is left out of UpdateSpace,
//! so it does not meet UpdateSpaceAppType); the knob changes nothing there.
//! Covered with one seeded app (a profile's JupyterLab, InService): ExecutionRoleWhileAppsRun
//! (DefaultUserSettings.ExecutionRole, forwarded, with the knob) and ChangesWhileAppsRun for
//! AppNetworkAccessType (the function refuses before any UpdateDomain, naming the app).
//! Not covered: ChangesWhileAppsRun's other members (removed subnets, ExecutionRoleIdentityConfig,
//! RStudio settings) and ExecutionRoleWhileAppsRun through DefaultSpaceSettings and a shared
//! space's app: the same rules on other members, each needing more seeded apps and spaces.
//! The function's own AppSecurityGroupManagement check names Service, the one value SageMaker
//! takes with RStudio (Customer is SageMaker's to refuse: the case above, forwarded).

use aws_sdk_sagemaker::types::{AppNetworkAccessType, AppType, AuthMode, UserSettings};
use local_cloud::cloud::LocalCloud;
use local_cloud::cloudformation::Response;
use local_cloud::seed::{EXECUTION_ROLE, app, domain, eventually, user_profile};
use sagemaker_emulator::{Options, Refusal};
use serde_json::{Value, json};
use std::time::Duration;

const ROLE: &str = "arn:aws:iam::123456789012:role/studio-execution";
const OTHER_ROLE: &str = "arn:aws:iam::123456789012:role/studio-execution-v2";
const RSTUDIO_ROLE: &str = "arn:aws:iam::123456789012:role/rstudio-domain";

async fn cloud(function: &str) -> LocalCloud {
    let cloud = LocalCloud::start_with(Options { transition_delay: Duration::from_millis(100), ..Options::default() }).await.expect("local cloud");
    cloud.deploy(function).await.expect("deploy");
    cloud
}

fn domains(cloud: &LocalCloud) -> Vec<Value> {
    cloud.sagemaker.snapshot()["domains"].as_array().cloned().unwrap_or_default()
}

fn snapshot_of(cloud: &LocalCloud, kind: &str, member: &str, value: &str) -> Option<Value> {
    cloud.sagemaker.snapshot()[kind].as_array()?.iter().find(|item| item[member] == value).cloned()
}

/// A plain IAM domain with a VPC, as the function receives it.
fn domain_properties(name: &str) -> Value {
    json!({"DomainName": name, "AuthMode": "IAM", "VpcId": "vpc-0a1b2c3d", "SubnetIds": ["subnet-0a", "subnet-0b"],
        "AppNetworkAccessType": "PublicInternetOnly", "DefaultUserSettings": {"ExecutionRole": ROLE}})
}

/// Sets `value` at a dotted path in `props`, making the objects on the way.
fn set(mut props: Value, path: &str, value: Value) -> Value {
    let mut at = &mut props;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        if at.get(*part).is_none() {
            at[*part] = json!({});
        }
        at = &mut at[*part];
    }
    at[parts[parts.len() - 1]] = value;
    props
}

fn five_groups() -> Value {
    json!(["sg-01", "sg-02", "sg-03", "sg-04", "sg-05"])
}

/// A Create the function forwards to SageMaker and SageMaker refuses.
struct Forwarded {
    refusal: Refusal,
    /// The properties, given the resource's name.
    properties: fn(&str) -> Value,
    /// What the Reason names: the operation, SageMaker's message.
    names: &'static [&'static str],
}

#[tokio::test]
async fn studio_domain_creates_that_sagemaker_refuses_fail_naming_the_refusal_and_leave_no_domain() {
    let cloud = cloud("studio-domain").await;
    let cases = [
        Forwarded {
            refusal: Refusal::AmazonQNeedsSso,
            properties: |name| set(domain_properties(name), "DomainSettings.AmazonQSettings.Status", json!("ENABLED")),
            names: &["CreateDomain", "ValidationException", "AmazonQSettings", "SSO"],
        },
        Forwarded {
            refusal: Refusal::StudioLandingNeedsWebPortal,
            properties: |name| {
                let props = set(domain_properties(name), "DefaultUserSettings.DefaultLandingUri", json!("studio::"));
                set(props, "DefaultUserSettings.StudioWebPortal", json!("DISABLED"))
            },
            names: &["CreateDomain", "ValidationException", "DefaultLandingUri", "StudioWebPortal"],
        },
        Forwarded {
            refusal: Refusal::DefaultAsDomainOnlyForProfiles,
            properties: |name| set(domain_properties(name), "DefaultUserSettings.AutoMountHomeEFS", json!("DefaultAsDomain")),
            names: &["CreateDomain", "ValidationException", "AutoMountHomeEFS", "DefaultAsDomain"],
        },
        Forwarded {
            refusal: Refusal::SecurityGroupsLeaveRoomForNfs,
            properties: |name| set(domain_properties(name), "DefaultUserSettings.SecurityGroups", five_groups()),
            names: &["CreateDomain", "ValidationException", "SecurityGroups"],
        },
        Forwarded {
            refusal: Refusal::RStudioSecurityGroupManagement,
            properties: |name| {
                let props = set(domain_properties(name), "AppNetworkAccessType", json!("VpcOnly"));
                let props = set(props, "DefaultUserSettings.SecurityGroups", json!(["sg-0studio"]));
                let props = set(props, "AppSecurityGroupManagement", json!("Customer"));
                set(props, "DomainSettings.RStudioServerProDomainSettings.DomainExecutionRoleArn", json!(RSTUDIO_ROLE))
            },
            names: &["CreateDomain", "ValidationException", "AppSecurityGroupManagement"],
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        let name = format!("refused-{i}");
        let before = domains(&cloud).len();
        let r = cloud.cfn.create("studio-domain", &format!("Refused{i}"), (case.properties)(&name)).await.unwrap();
        r.expect_failed_naming(case.names);
        assert_eq!(domains(&cloud).len(), before, "{:?}: no domain left behind", case.refusal);

        // The knob: the emulator's refusal is what failed it.
        cloud.sagemaker.set_refusal(case.refusal, false);
        let r = cloud.cfn.create("studio-domain", &format!("Accepted{i}"), (case.properties)(&format!("accepted-{i}"))).await.unwrap();
        cloud.sagemaker.set_refusal(case.refusal, true);
        assert!(r.status == local_cloud::cloudformation::Status::Success, "{:?} off: {:?}", case.refusal, r.reason);
        assert_eq!(domains(&cloud).len(), before + 1);
    }

    // RStudioSecurityGroupManagement without AppSecurityGroupManagement at all: the function
    // refuses before CreateDomain, naming Service (the only value SageMaker takes with RStudio).
    let calls = cloud.sagemaker.call_count("CreateDomain");
    let before = domains(&cloud).len();
    let mut unmanaged = (cases[4].properties)("unmanaged");
    unmanaged.as_object_mut().unwrap().remove("AppSecurityGroupManagement");
    let r = cloud.cfn.create("studio-domain", "Unmanaged", unmanaged).await.unwrap();
    r.expect_failed_naming(&["Invalid property AppSecurityGroupManagement", "set it to Service"]);
    assert_eq!(cloud.sagemaker.call_count("CreateDomain"), calls, "refused before calling CreateDomain");
    assert_eq!(domains(&cloud).len(), before);
}

/// An Update of a domain created with `old`; returns the response, the domain as it was before
/// the Update and as it is after.
async fn update_domain(cloud: &LocalCloud, logical_id: &str, old: Value, new: Value) -> (Response, Value, Value) {
    let created = cloud.cfn.create("studio-domain", logical_id, old.clone()).await.unwrap();
    created.expect_success();
    let id = created.physical_resource_id.clone();
    let before = snapshot_of(cloud, "domains", "DomainId", &id).expect("the domain");
    let r = cloud.cfn.update("studio-domain", logical_id, &id, new, old).await.unwrap();
    let after = snapshot_of(cloud, "domains", "DomainId", &id).expect("the domain is kept");
    (r, before, after)
}

#[tokio::test]
async fn studio_domain_updates_that_sagemaker_refuses_fail_and_leave_the_domain_as_it_was() {
    let cloud = cloud("studio-domain").await;

    // DisableHomeEfs: the function asks for a replacement before any UpdateDomain.
    let old = set(domain_properties("efs"), "HomeEfsFileSystemCreation", json!("Enabled"));
    let new = set(old.clone(), "HomeEfsFileSystemCreation", json!("Disabled"));
    let (r, before, after) = update_domain(&cloud, "Efs", old, new).await;
    r.expect_failed_naming(&["HomeEfsFileSystemCreation"]);
    assert_eq!(cloud.sagemaker.call_count("UpdateDomain"), 0, "DisableHomeEfs: refused before any UpdateDomain");
    assert_eq!(before, after);

    // VpcIdFixed: a new VpcId needs a new domain; refused before any UpdateDomain.
    let old = domain_properties("vpc");
    let new = set(old.clone(), "VpcId", json!("vpc-0other"));
    let (r, before, after) = update_domain(&cloud, "Vpc", old, new).await;
    r.expect_failed_naming(&["VpcId"]);
    assert_eq!(cloud.sagemaker.call_count("UpdateDomain"), 0, "VpcIdFixed: refused before any UpdateDomain");
    assert_eq!(before, after);
    assert_eq!(domains(&cloud).len(), 2, "no replacement made");

    // RStudioNetworkAccess: forwarded; SageMaker's refusal names the member.
    let rstudio = |name: &str| set(domain_properties(name), "DomainSettings.RStudioServerProDomainSettings.DomainExecutionRoleArn", json!(RSTUDIO_ROLE));
    let to_vpc_only = |old: &Value| {
        let new = set(old.clone(), "AppNetworkAccessType", json!("VpcOnly"));
        let new = set(new, "AppSecurityGroupManagement", json!("Service"));
        set(new, "DefaultUserSettings.SecurityGroups", json!(["sg-0studio"]))
    };
    let old = rstudio("rstudio");
    let (r, before, after) = update_domain(&cloud, "RStudio", old.clone(), to_vpc_only(&old)).await;
    r.expect_failed_naming(&["UpdateDomain", "ValidationException", "AppNetworkAccessType"]);
    assert_eq!(before["AppNetworkAccessType"], after["AppNetworkAccessType"]);
    assert_eq!(after["AppNetworkAccessType"], "PublicInternetOnly");
    cloud.sagemaker.set_refusal(Refusal::RStudioNetworkAccess, false);
    let old = rstudio("rstudio-accepted");
    let (r, _, after) = update_domain(&cloud, "RStudioAccepted", old.clone(), to_vpc_only(&old)).await;
    cloud.sagemaker.set_refusal(Refusal::RStudioNetworkAccess, true);
    r.expect_success();
    assert_eq!(after["AppNetworkAccessType"], "VpcOnly", "with the refusal off the same Update goes through");

    // VpcOnlyNeedsNetwork is never met: the switch carries VpcId and SubnetIds.
    let old = domain_properties("switch");
    let new = set(old.clone(), "AppNetworkAccessType", json!("VpcOnly"));
    let new = set(new, "DefaultUserSettings.SecurityGroups", json!(["sg-0studio"]));
    let (r, _, after) = update_domain(&cloud, "Switch", old, new).await;
    r.expect_success();
    assert_eq!(after["AppNetworkAccessType"], "VpcOnly");
}

fn profile_properties(domain: &str, name: &str) -> Value {
    json!({"DomainId": domain, "UserProfileName": name, "UserSettings": {"ExecutionRole": EXECUTION_ROLE}})
}

#[tokio::test]
async fn studio_user_profile_creates_and_updates_that_sagemaker_refuses_fail_and_leave_nothing() {
    let cloud = cloud("studio-user-profile").await;
    let client = cloud.sagemaker_client();
    let iam = domain(&client, "iam", AuthMode::Iam).await;
    let sso = domain(&client, "sso", AuthMode::Sso).await;
    let vpc_only = client
        .create_domain()
        .domain_name("vpc-only")
        .auth_mode(AuthMode::Iam)
        .app_network_access_type(AppNetworkAccessType::VpcOnly)
        .default_user_settings(UserSettings::builder().execution_role(EXECUTION_ROLE).build())
        .subnet_ids("subnet-0abc")
        .vpc_id("vpc-0abc")
        .send()
        .await
        .expect("CreateDomain")
        .domain_id()
        .expect("DomainId")
        .to_string();
    eventually("vpc-only domain InService", || async {
        let d = client.describe_domain().domain_id(&vpc_only).send().await.ok()?;
        (d.status().map(|s| s.as_str()) == Some("InService")).then_some(())
    })
    .await;
    let profiles = |cloud: &LocalCloud| cloud.sagemaker.snapshot()["profiles"].as_array().map(Vec::len).unwrap_or_default();

    // SsoIdentifiers: refused by the function before any call.
    let in_iam = set(set(profile_properties(&iam, "carol"), "SingleSignOnUserIdentifier", json!("UserName")), "SingleSignOnUserValue", json!("carol"));
    let r = cloud.cfn.create("studio-user-profile", "Carol", in_iam).await.unwrap();
    r.expect_failed_naming(&["SingleSignOnUserIdentifier"]);
    let in_sso = profile_properties(&sso, "carol");
    let r = cloud.cfn.create("studio-user-profile", "Carol", in_sso).await.unwrap();
    r.expect_failed_naming(&["SingleSignOnUserIdentifier"]);
    assert_eq!(cloud.sagemaker.call_count("CreateUserProfile"), 0, "SsoIdentifiers: refused before calling");

    // SsoUserMustExist: a user the directory does not have.
    let stranger =
        set(set(profile_properties(&sso, "dave"), "SingleSignOnUserIdentifier", json!("UserName")), "SingleSignOnUserValue", json!("dave@example.com"));
    let r = cloud.cfn.create("studio-user-profile", "Dave", stranger).await.unwrap();
    r.expect_failed_naming(&["dave@example.com"]);
    assert_eq!(profiles(&cloud), 0, "SsoUserMustExist: no profile left behind");
    assert_eq!(cloud.sagemaker.call_count("CreateUserProfile"), 0, "SsoUserMustExist: the identity store is asked first");

    // Forwarded Creates, each with the knob.
    let cases: [(Refusal, Value, &[&str]); 3] = [
        (Refusal::VpcOnlyProfileSecurityGroups, profile_properties(&vpc_only, "vpc"), &["CreateUserProfile", "ValidationException", "SecurityGroups"]),
        (
            Refusal::SecurityGroupsLeaveRoomForNfs,
            set(profile_properties(&iam, "groups"), "UserSettings.SecurityGroups", five_groups()),
            &["CreateUserProfile", "ValidationException", "SecurityGroups"],
        ),
        (
            Refusal::StudioLandingNeedsWebPortal,
            set(
                set(profile_properties(&iam, "landing"), "UserSettings.DefaultLandingUri", json!("studio::")),
                "UserSettings.StudioWebPortal",
                json!("DISABLED"),
            ),
            &["CreateUserProfile", "ValidationException", "DefaultLandingUri"],
        ),
    ];
    for (i, (refusal, props, names)) in cases.iter().enumerate() {
        let before = profiles(&cloud);
        let r = cloud.cfn.create("studio-user-profile", &format!("Refused{i}"), props.clone()).await.unwrap();
        r.expect_failed_naming(names);
        assert_eq!(profiles(&cloud), before, "{refusal:?}: no profile left behind");
        cloud.sagemaker.set_refusal(*refusal, false);
        let r = cloud.cfn.create("studio-user-profile", &format!("Accepted{i}"), props.clone()).await.unwrap();
        cloud.sagemaker.set_refusal(*refusal, true);
        assert!(r.status == local_cloud::cloudformation::Status::Success, "{refusal:?} off: {:?}", r.reason);
        assert_eq!(profiles(&cloud), before + 1);
    }

    // Updates: the profile keeps its settings.
    let old = set(profile_properties(&iam, "erin"), "UserSettings.StudioWebPortal", json!("DISABLED"));
    let created = cloud.cfn.create("studio-user-profile", "Erin", old.clone()).await.unwrap();
    created.expect_success();
    let before = snapshot_of(&cloud, "profiles", "UserProfileName", "erin").expect("erin");
    for (new, names) in [
        (set(old.clone(), "UserSettings.DefaultLandingUri", json!("studio::")), ["UpdateUserProfile", "DefaultLandingUri"]),
        (set(old.clone(), "UserSettings.SecurityGroups", five_groups()), ["UpdateUserProfile", "SecurityGroups"]),
    ] {
        let r = cloud.cfn.update("studio-user-profile", "Erin", &created.physical_resource_id, new, old.clone()).await.unwrap();
        r.expect_failed_naming(&names);
        let after = snapshot_of(&cloud, "profiles", "UserProfileName", "erin").expect("erin");
        assert_eq!(before["UserSettings"], after["UserSettings"], "the old settings are kept");
    }
}

fn space_properties(domain: &str, name: &str) -> Value {
    json!({"DomainId": domain, "SpaceName": name, "SpaceSharingSettings": {"SharingType": "Shared"},
        "SpaceSettings": {"AppType": "JupyterLab", "SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": "20"}}}})
}

#[tokio::test]
async fn studio_space_refuses_what_sagemaker_refuses_before_any_mutating_call() {
    let cloud = cloud("studio-space").await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "spaces", AuthMode::Iam).await;
    user_profile(&client, &domain, "alice").await;
    let spaces = |cloud: &LocalCloud| cloud.sagemaker.snapshot()["spaces"].as_array().map(Vec::len).unwrap_or_default();

    for refusal_on in [true, false] {
        cloud.sagemaker.set_refusal(Refusal::PrivateSpaceNeedsOwner, refusal_on);
        cloud.sagemaker.set_refusal(Refusal::UpdateSpaceAppType, refusal_on);
        cloud.sagemaker.set_refusal(Refusal::EbsOnlyGrows, refusal_on);
        let tag = if refusal_on { "on" } else { "off" };

        // PrivateSpaceNeedsOwner.
        let ownerless = set(space_properties(&domain, &format!("private-{tag}")), "SpaceSharingSettings.SharingType", json!("Private"));
        let r = cloud.cfn.create("studio-space", &format!("Private{tag}"), ownerless).await.unwrap();
        r.expect_failed_naming(&["OwnershipSettings.OwnerUserProfileName"]);
        assert_eq!(cloud.sagemaker.call_count("CreateSpace"), 0, "PrivateSpaceNeedsOwner ({tag}): refused before calling");
        assert_eq!(spaces(&cloud), 0);
    }

    let old = space_properties(&domain, "team");
    let created = cloud.cfn.create("studio-space", "Team", old.clone()).await.unwrap();
    created.expect_success();
    let before = snapshot_of(&cloud, "spaces", "SpaceName", "team").expect("team");

    // UpdateSpaceAppType: a new AppType under the same SpaceName, refused before UpdateSpace.
    let code_editor = set(old.clone(), "SpaceSettings.AppType", json!("CodeEditor"));
    let r = cloud.cfn.update("studio-space", "Team", &created.physical_resource_id, code_editor, old.clone()).await.unwrap();
    r.expect_failed_naming(&["AppType"]);
    // EbsOnlyGrows: a shrink, refused before UpdateSpace.
    let smaller = set(old.clone(), "SpaceSettings.SpaceStorageSettings.EbsStorageSettings.EbsVolumeSizeInGb", json!("10"));
    let r = cloud.cfn.update("studio-space", "Team", &created.physical_resource_id, smaller, old.clone()).await.unwrap();
    r.expect_failed_naming(&["EbsVolumeSizeInGb"]);
    assert_eq!(cloud.sagemaker.call_count("UpdateSpace"), 0, "refused before any UpdateSpace");
    assert_eq!(cloud.sagemaker.call_count("CreateSpace"), 1);
    let after = snapshot_of(&cloud, "spaces", "SpaceName", "team").expect("team");
    assert_eq!(before["SpaceSettings"], after["SpaceSettings"], "the old settings are kept");

    // An unchanged AppType never meets UpdateSpaceAppType: UpdateSpace goes without it.
    let bigger = set(old.clone(), "SpaceSettings.SpaceStorageSettings.EbsStorageSettings.EbsVolumeSizeInGb", json!("30"));
    let r = cloud.cfn.update("studio-space", "Team", &created.physical_resource_id, bigger, old).await.unwrap();
    r.expect_success();
    assert_eq!(cloud.sagemaker.call_count("UpdateSpace"), 1);
    assert!(cloud.sagemaker.requests("UpdateSpace").iter().all(|body| body["SpaceSettings"].get("AppType").is_none()));
}

#[tokio::test]
async fn studio_domain_changes_while_a_profile_app_runs_fail_and_leave_the_domain_as_it_was() {
    let cloud = cloud("studio-domain").await;
    let client = cloud.sagemaker_client();
    let old = domain_properties("apps");
    let created = cloud.cfn.create("studio-domain", "Apps", old.clone()).await.unwrap();
    created.expect_success();
    let id = created.physical_resource_id.clone();
    user_profile(&client, &id, "bob").await;
    app(&client, &id, Some("bob"), None, AppType::JupyterLab, "default").await;
    let before = snapshot_of(&cloud, "domains", "DomainId", &id).expect("the domain");

    let new = set(old.clone(), "DefaultUserSettings.ExecutionRole", json!(OTHER_ROLE));
    let r = cloud.cfn.update("studio-domain", "Apps", &id, new.clone(), old.clone()).await.unwrap();
    r.expect_failed_naming(&["UpdateDomain", "ValidationException", "DefaultUserSettings.ExecutionRole", "bob"]);
    let after = snapshot_of(&cloud, "domains", "DomainId", &id).expect("the domain");
    assert_eq!(before["DefaultUserSettings"], after["DefaultUserSettings"], "the old role is kept");

    // ChangesWhileAppsRun: the function refuses a network change while apps run before any UpdateDomain.
    let updates = cloud.sagemaker.call_count("UpdateDomain");
    let vpc_only = set(set(old.clone(), "AppNetworkAccessType", json!("VpcOnly")), "DefaultUserSettings.SecurityGroups", json!(["sg-0studio"]));
    let r = cloud.cfn.update("studio-domain", "Apps", &id, vpc_only, old.clone()).await.unwrap();
    r.expect_failed_naming(&["AppNetworkAccessType"]);
    assert_eq!(cloud.sagemaker.call_count("UpdateDomain"), updates, "ChangesWhileAppsRun: refused before any UpdateDomain");
    let after = snapshot_of(&cloud, "domains", "DomainId", &id).expect("the domain");
    assert_eq!(after["AppNetworkAccessType"], "PublicInternetOnly");

    // The knob: with ExecutionRoleWhileAppsRun off the same role change goes through.
    cloud.sagemaker.set_refusal(Refusal::ExecutionRoleWhileAppsRun, false);
    let r = cloud.cfn.update("studio-domain", "Apps", &id, new, old).await.unwrap();
    r.expect_success();
    let after = snapshot_of(&cloud, "domains", "DomainId", &id).expect("the domain");
    assert_eq!(after["DefaultUserSettings"]["ExecutionRole"], OTHER_ROLE);
}
