//! The IAM Identity Center emulator (sso-admin, identitystore), driven by the real SDK clients.

use aws_sdk_identitystore::error::ProvideErrorMetadata as _;
use aws_sdk_identitystore::types::{AlternateIdentifier, MemberId, UniqueAttribute};
use aws_sdk_ssoadmin::types::{ListApplicationAssignmentsFilter, PrincipalType};
use aws_smithy_types::Document;
use local_cloud::identity_center::{DuplicateAssignment, IdentityCenter, PrincipalType as Principal};

fn sso_admin(center: &IdentityCenter) -> aws_sdk_ssoadmin::Client {
    aws_sdk_ssoadmin::Client::new(&local_cloud::sdk_config(&center.endpoint()))
}

fn identity_store(center: &IdentityCenter) -> aws_sdk_identitystore::Client {
    aws_sdk_identitystore::Client::new(&local_cloud::sdk_config(&center.endpoint()))
}

fn by(path: &str, value: &str) -> AlternateIdentifier {
    let attribute = UniqueAttribute::builder().attribute_path(path).attribute_value(Document::String(value.into())).build();
    AlternateIdentifier::UniqueAttribute(attribute.expect("UniqueAttribute"))
}

#[tokio::test]
async fn list_instances_answers_the_instance_and_its_identity_store() {
    let center = IdentityCenter::start().await.unwrap();
    let out = sso_admin(&center).list_instances().send().await.expect("ListInstances");
    let [instance] = out.instances() else { panic!("one instance: {out:?}") };
    assert_eq!(instance.instance_arn(), Some(center.instance_arn().as_str()));
    assert_eq!(instance.identity_store_id(), Some(center.identity_store_id().as_str()));
    assert!(center.instance_arn().starts_with("arn:aws:sso:::instance/ssoins-"));
    assert_eq!(instance.status().map(|s| s.as_str()), Some("ACTIVE"));
}

#[tokio::test]
async fn describe_application_answers_an_existing_application_and_not_found_otherwise() {
    let center = IdentityCenter::start().await.unwrap();
    let arn = center.create_application("SageMakerStudioDomain-d-1", "studio");
    let client = sso_admin(&center);
    let out = client.describe_application().application_arn(&arn).send().await.expect("DescribeApplication");
    assert_eq!(out.application_arn(), Some(arn.as_str()));
    assert_eq!(out.instance_arn(), Some(center.instance_arn().as_str()));
    assert_eq!(out.name(), Some("SageMakerStudioDomain-d-1"));

    center.delete_application(&arn);
    let err = client.describe_application().application_arn(&arn).send().await.expect_err("gone");
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    assert!(err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()));
}

#[tokio::test]
async fn get_user_id_and_get_group_id_resolve_names_and_refuse_unknown_ones() {
    let center = IdentityCenter::start().await.unwrap();
    let alice = center.add_user_with_email("alice", "alice@example.com");
    let team = center.add_group("data-science");
    let store = center.identity_store_id();
    let client = identity_store(&center);

    let out = client.get_user_id().identity_store_id(&store).alternate_identifier(by("userName", "alice")).send().await.expect("GetUserId");
    assert_eq!(out.user_id(), alice);
    assert_eq!(out.identity_store_id(), store);
    let out = client.get_user_id().identity_store_id(&store).alternate_identifier(by("emails.value", "alice@example.com")).send().await.expect("by email");
    assert_eq!(out.user_id(), alice);
    let out = client.get_group_id().identity_store_id(&store).alternate_identifier(by("displayName", "data-science")).send().await.expect("GetGroupId");
    assert_eq!(out.group_id(), team);

    let err = client.get_user_id().identity_store_id(&store).alternate_identifier(by("userName", "alicia")).send().await.expect_err("unknown user");
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    let service = err.into_service_error();
    let aws_sdk_identitystore::operation::get_user_id::GetUserIdError::ResourceNotFoundException(not_found) = service else { panic!("{service:?}") };
    assert_eq!(not_found.resource_type().map(|t| t.as_str()), Some("USER"));
    // A user name is not a group name.
    let err = client.get_group_id().identity_store_id(&store).alternate_identifier(by("displayName", "alice")).send().await.expect_err("unknown group");
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    let err = client.get_group_id().identity_store_id(&store).alternate_identifier(by("userName", "alice")).send().await.expect_err("bad path");
    assert_eq!(err.code(), Some("ValidationException"));
    let err = client.get_user_id().identity_store_id("d-0000000000").alternate_identifier(by("userName", "alice")).send().await.expect_err("other store");
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn group_memberships_answer_is_member_in_groups_and_list_for_member() {
    let center = IdentityCenter::start().await.unwrap();
    let alice = center.add_user("alice");
    let bob = center.add_user("bob");
    let groups: Vec<String> = ["a", "b", "c"].iter().map(|g| center.add_group(g)).collect();
    for group in &groups {
        center.add_membership(group, &alice);
    }
    center.add_membership(&groups[1], &bob);
    let store = center.identity_store_id();
    let client = identity_store(&center);

    let out = client
        .is_member_in_groups()
        .identity_store_id(&store)
        .member_id(MemberId::UserId(bob.clone()))
        .group_ids(&groups[0])
        .group_ids(&groups[1])
        .send()
        .await
        .expect("IsMemberInGroups");
    let answers: Vec<(Option<&str>, bool)> = out.results().iter().map(|r| (r.group_id(), r.membership_exists())).collect();
    assert_eq!(answers, vec![(Some(groups[0].as_str()), false), (Some(groups[1].as_str()), true)]);

    // Pages of 2: the paginator must follow NextToken to see all three.
    let pages: Vec<_> = client
        .list_group_memberships_for_member()
        .identity_store_id(&store)
        .member_id(MemberId::UserId(alice.clone()))
        .into_paginator()
        .send()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(pages.len(), 2);
    let listed: Vec<String> =
        pages.into_iter().flat_map(|p| p.expect("page").group_memberships().to_vec()).filter_map(|m| m.group_id().map(str::to_string)).collect();
    assert_eq!(listed, groups);

    let err = client
        .list_group_memberships_for_member()
        .identity_store_id(&store)
        .member_id(MemberId::UserId("nobody".into()))
        .send()
        .await
        .expect_err("unknown member");
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn application_assignments_are_created_listed_described_and_deleted() {
    let center = IdentityCenter::start().await.unwrap();
    let app = center.create_application("studio", "studio");
    let users: Vec<String> = ["u1", "u2"].iter().map(|u| center.add_user(u)).collect();
    let group = center.add_group("team");
    let client = sso_admin(&center);
    let assign = |id: &str, kind: PrincipalType| client.create_application_assignment().application_arn(&app).principal_id(id).principal_type(kind).send();
    assign(&users[0], PrincipalType::User).await.expect("assign u1");
    assign(&users[1], PrincipalType::User).await.expect("assign u2");
    assign(&group, PrincipalType::Group).await.expect("assign group");

    let listed: Vec<(String, String)> = client
        .list_application_assignments()
        .application_arn(&app)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(|a| a.expect("item"))
        .map(|a| (a.principal_id().to_string(), a.principal_type().as_str().to_string()))
        .collect();
    let expected = vec![(users[0].clone(), "USER".into()), (users[1].clone(), "USER".into()), (group.clone(), "GROUP".into())];
    assert_eq!(listed, expected);
    assert_eq!(center.call_count("ListApplicationAssignments"), 2, "pages of 2");

    let describe = |id: &str, kind: PrincipalType| client.describe_application_assignment().application_arn(&app).principal_id(id).principal_type(kind).send();
    describe(&group, PrincipalType::Group).await.expect("assigned");
    // The same id as another principal type is another assignment.
    let err = describe(&group, PrincipalType::User).await.expect_err("not as a user");
    assert_eq!(err.code(), Some("ResourceNotFoundException"));

    // A second assignment of the same principal: ConflictException, or success when configured so.
    let err = assign(&users[0], PrincipalType::User).await.expect_err("duplicate");
    assert_eq!(err.code(), Some("ConflictException"));
    center.set_duplicate_assignment(DuplicateAssignment::Succeed);
    assign(&users[0], PrincipalType::User).await.expect("duplicate accepted");
    assert_eq!(center.assignments(&app).len(), 3);

    let err = assign("no-such-user", PrincipalType::User).await.expect_err("unknown principal");
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    let err = client
        .create_application_assignment()
        .application_arn("arn:aws:sso::123456789012:application/ssoins-0/apl-0")
        .principal_id(&users[0])
        .principal_type(PrincipalType::User)
        .send()
        .await
        .expect_err("unknown application");
    assert_eq!(err.code(), Some("ResourceNotFoundException"));

    let delete = |id: &str, kind: PrincipalType| client.delete_application_assignment().application_arn(&app).principal_id(id).principal_type(kind).send();
    delete(&users[1], PrincipalType::User).await.expect("unassign u2");
    let left: Vec<String> = center.assignments(&app).into_iter().map(|a| a.principal_id).collect();
    assert_eq!(left, vec![users[0].clone(), group.clone()]);
    let err = delete(&users[1], PrincipalType::User).await.expect_err("already gone");
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn assignments_for_a_principal_are_its_direct_ones_only() {
    let center = IdentityCenter::start().await.unwrap();
    let studio = center.create_application("studio", "");
    let other = center.create_application("other", "");
    let alice = center.add_user("alice");
    let bob = center.add_user("bob");
    let team = center.add_group("team");
    center.add_membership(&team, &bob);
    center.assign(&studio, Principal::User, &alice);
    center.assign(&other, Principal::User, &alice);
    center.assign(&studio, Principal::Group, &team);
    let client = sso_admin(&center);
    let list = |id: &str, filter: Option<&str>| {
        let mut request =
            client.list_application_assignments_for_principal().instance_arn(center.instance_arn()).principal_id(id).principal_type(PrincipalType::User);
        if let Some(app) = filter {
            request = request.filter(ListApplicationAssignmentsFilter::builder().application_arn(app).build());
        }
        request.send()
    };

    let out = list(&alice, None).await.expect("alice");
    let apps: Vec<Option<&str>> = out.application_assignments().iter().map(|a| a.application_arn()).collect();
    assert_eq!(apps, vec![Some(studio.as_str()), Some(other.as_str())]);
    let out = list(&alice, Some(&studio)).await.expect("alice on studio");
    assert_eq!(out.application_assignments().len(), 1);
    // Bob has access through his group only: not a direct assignment.
    let out = list(&bob, None).await.expect("bob");
    assert!(out.application_assignments().is_empty(), "{out:?}");

    let err = client
        .list_application_assignments_for_principal()
        .instance_arn("arn:aws:sso:::instance/ssoins-0000000000000000")
        .principal_id(&alice)
        .principal_type(PrincipalType::User)
        .send()
        .await
        .expect_err("other instance");
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_and_refusals_are_typed() {
    let center = IdentityCenter::start().await.unwrap();
    center.add_user("alice");
    let store = center.identity_store_id();
    let client = identity_store(&center);

    // The SDK's standard retry makes 3 attempts: two throttled ones are retried away.
    center.throttle_next(2);
    client.get_user_id().identity_store_id(&store).alternate_identifier(by("userName", "alice")).send().await.expect("retried");
    assert_eq!(center.call_count("GetUserId"), 3);

    center.throttle_next(3);
    let err = client.get_user_id().identity_store_id(&store).alternate_identifier(by("userName", "alice")).send().await.expect_err("throttled");
    assert_eq!(err.code(), Some("ThrottlingException"));
    assert!(err.as_service_error().is_some_and(|e| e.is_throttling_exception()));

    center.set_denied("ListInstances", true);
    let err = sso_admin(&center).list_instances().send().await.expect_err("denied");
    assert_eq!(err.code(), Some("AccessDeniedException"));
    assert!(err.message().is_some_and(|m| m.contains("sso:ListInstances")), "{:?}", err.message());
    center.set_denied("ListInstances", false);
    sso_admin(&center).list_instances().send().await.expect("allowed again");

    let app = center.create_application("studio", "");
    let alice = center.add_user("alice2");
    center.refuse_next("CreateApplicationAssignment", "ConflictException", "concurrent modification");
    let err = sso_admin(&center)
        .create_application_assignment()
        .application_arn(&app)
        .principal_id(&alice)
        .principal_type(PrincipalType::User)
        .send()
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Some("ConflictException"));
    assert!(center.assignments(&app).is_empty(), "a refused call has no effect");
}
