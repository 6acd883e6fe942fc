//! An IAM Identity Center emulator: the sso-admin API (instances, applications and their
//! assignments) and the identitystore API (users, groups, memberships) of one instance.
//!
//! Protocol: awsJson1_1 for both, on one endpoint: `POST /` with `X-Amz-Target:
//! SWBExternalService.<Operation>` (sso-admin) or `AWSIdentityStore.<Operation>`; errors are
//! HTTP 400 `{"__type": "<Code>", "Message": "..."}`. Signatures are not checked; calls are
//! recorded with their IAM action (`sso:...`, `identitystore:...`) by the emulator kit.
//!
//! Users, groups and memberships are seeded by the test ([`IdentityCenter::add_user`] ...), as an
//! administrator would make them; applications are made by the SageMaker emulator's SSO domains
//! (see `cloud.rs`) or by [`IdentityCenter::create_application`].

use std::collections::BTreeMap;

use emulator_kit::ids::{epoch_seconds, random_hex, uuid_v4};
use emulator_kit::members::{self, Body, Checks};
use emulator_kit::paging::{indexed, page};
use emulator_kit::{AwsError as ApiError, Fault, Handle, Output, Protocol, Request, Route, Service};
use serde_json::{Value, json};

use crate::ACCOUNT_ID;

/// What CreateApplicationAssignment answers for an assignment that exists already. AWS does not
/// document it; the function must cope with either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateAssignment {
    /// ConflictException.
    Conflict,
    /// Success, nothing changes.
    Succeed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PrincipalType {
    User,
    Group,
}

impl PrincipalType {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalType::User => "USER",
            PrincipalType::Group => "GROUP",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "USER" => Some(PrincipalType::User),
            "GROUP" => Some(PrincipalType::Group),
            _ => None,
        }
    }
}

/// An assignment of a principal (user or group id) to an application.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Assignment {
    pub application_arn: String,
    pub principal_type: PrincipalType,
    pub principal_id: String,
}

#[derive(Debug, Clone)]
struct Application {
    name: String,
    description: String,
    created: f64,
}

#[derive(Debug, Clone)]
struct User {
    id: String,
    user_name: String,
    email: Option<String>,
}

#[derive(Debug, Clone)]
struct Group {
    id: String,
    display_name: String,
}

#[derive(Debug, Clone)]
struct Membership {
    id: String,
    group_id: String,
    user_id: String,
}

struct State {
    /// Off: the account has no Identity Center instance (ListInstances is empty).
    instance_enabled: bool,
    instance_arn: String,
    identity_store_id: String,
    instance_created: f64,
    applications: BTreeMap<String, Application>,
    /// In the order they were made (List* answers in that order).
    assignments: Vec<Assignment>,
    users: Vec<User>,
    groups: Vec<Group>,
    memberships: Vec<Membership>,
    duplicate_assignment: DuplicateAssignment,
    page_size: usize,
}

/// A running Identity Center emulator; clones share it. The server stops with the last clone.
/// Derefs to the kit's [`Emulator`](emulator_kit::Emulator) (endpoint, calls, faults).
#[derive(Clone)]
pub struct IdentityCenter(Handle<State>);

emulator_kit::deref_to_emulator!(IdentityCenter);

type ApiResult = Result<Value, ApiError>;

/// ResourceNotFoundException with its ResourceType (USER, GROUP, APPLICATION ...).
fn not_found(resource_type: &str, message: impl Into<String>) -> ApiError {
    ApiError::new("ResourceNotFoundException", message).with_field("ResourceType", json!(resource_type))
}

impl IdentityCenter {
    /// One instance (with its identity store), no users, no applications.
    pub async fn start() -> std::io::Result<Self> {
        let instance_arn = format!("arn:aws:sso:::instance/ssoins-{}", random_hex(16));
        let state = State {
            instance_enabled: true,
            instance_arn,
            identity_store_id: format!("d-{}", random_hex(10)),
            instance_created: epoch_seconds(),
            applications: BTreeMap::new(),
            assignments: Vec::new(),
            users: Vec::new(),
            groups: Vec::new(),
            memberships: Vec::new(),
            duplicate_assignment: DuplicateAssignment::Conflict,
            // Small pages make every client exercise pagination.
            page_size: 2,
        };
        // Its endpoint serves AWS_ENDPOINT_URL_SSO_ADMIN and AWS_ENDPOINT_URL_IDENTITYSTORE.
        Ok(Self(Handle::start(state).await?))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.state()
    }

    pub fn instance_arn(&self) -> String {
        self.state().instance_arn.clone()
    }

    pub fn identity_store_id(&self) -> String {
        self.state().identity_store_id.clone()
    }

    /// Whether the account has its Identity Center instance (on by default). Without one,
    /// ListInstances is empty and SageMaker refuses SSO domains.
    pub fn set_instance_enabled(&self, enabled: bool) {
        self.state().instance_enabled = enabled;
    }

    pub fn instance_enabled(&self) -> bool {
        self.state().instance_enabled
    }

    /// A user with this user name (what people sign in with); returns its UserId.
    pub fn add_user(&self, user_name: &str) -> String {
        let id = uuid_v4();
        self.state().users.push(User { id: id.clone(), user_name: user_name.to_string(), email: None });
        id
    }

    /// A user that also has a primary email (GetUserId can find it by `emails.value`).
    pub fn add_user_with_email(&self, user_name: &str, email: &str) -> String {
        let id = self.add_user(user_name);
        if let Some(user) = self.state().users.iter_mut().find(|u| u.id == id) {
            user.email = Some(email.to_string());
        }
        id
    }

    /// A group with this display name; returns its GroupId.
    pub fn add_group(&self, display_name: &str) -> String {
        let id = uuid_v4();
        self.state().groups.push(Group { id: id.clone(), display_name: display_name.to_string() });
        id
    }

    /// Makes the user a member of the group; returns the MembershipId.
    pub fn add_membership(&self, group_id: &str, user_id: &str) -> String {
        let id = uuid_v4();
        self.state().memberships.push(Membership { id: id.clone(), group_id: group_id.to_string(), user_id: user_id.to_string() });
        id
    }

    /// An application of the instance, as SageMaker makes one for an SSO domain; returns its ARN.
    pub fn create_application(&self, name: &str, description: &str) -> String {
        let mut state = self.state();
        let instance = state.instance_arn.rsplit('/').next().unwrap_or_default().to_string();
        let arn = format!("arn:aws:sso::{ACCOUNT_ID}:application/{instance}/apl-{}", random_hex(16));
        let application = Application { name: name.to_string(), description: description.to_string(), created: epoch_seconds() };
        state.applications.insert(arn.clone(), application);
        arn
    }

    /// Removes an application and its assignments (SageMaker does so with its domain).
    pub fn delete_application(&self, arn: &str) {
        let mut state = self.state();
        state.applications.remove(arn);
        state.assignments.retain(|a| a.application_arn != arn);
    }

    pub fn application_exists(&self, arn: &str) -> bool {
        self.state().applications.contains_key(arn)
    }

    /// Assigns directly (as the console's "Who will use Studio?" does), bypassing the API.
    pub fn assign(&self, application_arn: &str, principal_type: PrincipalType, principal_id: &str) {
        let assignment = Assignment { application_arn: application_arn.to_string(), principal_type, principal_id: principal_id.to_string() };
        let mut state = self.state();
        if !state.assignments.contains(&assignment) {
            state.assignments.push(assignment);
        }
    }

    /// The assignments of an application, in the order they were made.
    pub fn assignments(&self, application_arn: &str) -> Vec<Assignment> {
        self.state().assignments.iter().filter(|a| a.application_arn == application_arn).cloned().collect()
    }

    pub fn set_duplicate_assignment(&self, behaviour: DuplicateAssignment) {
        self.state().duplicate_assignment = behaviour;
    }

    /// The most items a List* page holds (less when MaxResults asks for less).
    pub fn set_page_size(&self, size: usize) {
        self.state().page_size = size.max(1);
    }
}

const PROTOCOL: Protocol = Protocol::AwsJson { message_key: "Message" };

impl Service for State {
    fn route(request: &Request) -> Route {
        let target = request.header("x-amz-target").unwrap_or_default();
        let (service, operation) = target.split_once('.').unwrap_or(("", target));
        let iam_prefix = if service == "AWSIdentityStore" { "identitystore" } else { "sso" };
        Route::new(operation, iam_prefix, PROTOCOL)
    }

    /// Identity Center's throttling answer says when to retry.
    fn fault_error(route: &Route, fault: &Fault) -> ApiError {
        let error = PROTOCOL.fault_error(&route.action(), fault);
        if *fault == Fault::Throttled { error.with_field("RetryAfterSeconds", json!(1)) } else { error }
    }

    fn call(&mut self, route: &Route, request: &Request) -> Result<Output, ApiError> {
        let target = request.header("x-amz-target").unwrap_or_default();
        let service = target.split_once('.').map_or("", |(service, _)| service);
        let body = request.json_object()?;
        let request = Req(&body);
        let state = self;
        let answer = match (service, route.operation.as_str()) {
            ("SWBExternalService", "ListInstances") => list_instances(state, request),
            ("SWBExternalService", "DescribeApplication") => describe_application(state, request),
            ("SWBExternalService", "CreateApplicationAssignment") => create_assignment(state, request),
            ("SWBExternalService", "DeleteApplicationAssignment") => delete_assignment(state, request),
            ("SWBExternalService", "DescribeApplicationAssignment") => describe_assignment(state, request),
            ("SWBExternalService", "ListApplicationAssignments") => list_assignments(state, request),
            ("SWBExternalService", "ListApplicationAssignmentsForPrincipal") => list_assignments_for_principal(state, request),
            ("AWSIdentityStore", "GetUserId") => get_user_id(state, request),
            ("AWSIdentityStore", "GetGroupId") => get_group_id(state, request),
            ("AWSIdentityStore", "IsMemberInGroups") => is_member_in_groups(state, request),
            ("AWSIdentityStore", "ListGroupMembershipsForMember") => list_memberships_for_member(state, request),
            _ => Err(ApiError::unknown_operation(target)),
        };
        answer.map(Output::Json)
    }
}

/// A request body, read member by member with the kit's SerializationException and
/// ValidationException messages.
#[derive(Clone, Copy)]
struct Req<'a>(&'a Body);

impl<'a> Req<'a> {
    fn opt_str(self, key: &str) -> Result<Option<&'a str>, ApiError> {
        members::opt_str(self.0, key)
    }

    fn str(self, key: &str) -> Result<&'a str, ApiError> {
        required(key, self.opt_str(key)?)
    }

    fn obj(self, key: &str) -> Result<Req<'a>, ApiError> {
        required(key, members::opt_obj(self.0, key)?).map(Req)
    }

    fn max_results(self, state: &State, limit: usize) -> Result<usize, ApiError> {
        match self.0.get("MaxResults") {
            None | Some(Value::Null) => Ok(state.page_size),
            Some(value) => match value.as_u64() {
                Some(n) if (1..=limit as u64).contains(&n) => Ok((n as usize).min(state.page_size)),
                _ => Err(ApiError::validation(format!("MaxResults must be between 1 and {limit}, got {value}"))),
            },
        }
    }

    fn principal_type(self) -> Result<PrincipalType, ApiError> {
        let value = self.str("PrincipalType")?;
        PrincipalType::parse(value).ok_or_else(|| ApiError::validation(format!("PrincipalType must be one of [USER, GROUP], got '{value}'")))
    }
}

/// A required member: "1 validation error detected: Value null at ..." when absent.
fn required<T>(key: &str, value: Option<T>) -> Result<T, ApiError> {
    let mut checks = Checks::default();
    let value = checks.required(key, value);
    checks.finish()?;
    value.ok_or_else(|| ApiError::validation(key))
}

fn paged(items: &[Value], req: Req, max: usize, list_key: &str) -> ApiResult {
    let (items, next) = page(indexed(items.iter().cloned()), req.opt_str("NextToken")?, max).map_err(ApiError::validation)?;
    let mut out = json!({ list_key: items });
    if let Some(next) = next {
        out["NextToken"] = json!(next);
    }
    Ok(out)
}

fn list_instances(state: &mut State, req: Req) -> ApiResult {
    let max = req.max_results(state, 100)?;
    let instance = json!({
        "InstanceArn": state.instance_arn,
        "IdentityStoreId": state.identity_store_id,
        "OwnerAccountId": ACCOUNT_ID,
        "Name": "local",
        "CreatedDate": state.instance_created,
        "Status": "ACTIVE",
    });
    let instances = if state.instance_enabled { vec![instance] } else { Vec::new() };
    paged(&instances, req, max, "Instances")
}

fn application<'s>(state: &'s State, arn: &str) -> Result<&'s Application, ApiError> {
    state.applications.get(arn).ok_or_else(|| not_found("APPLICATION", format!("Application {arn} does not exist")))
}

fn describe_application(state: &mut State, req: Req) -> ApiResult {
    let arn = req.str("ApplicationArn")?;
    let app = application(state, arn)?;
    Ok(json!({
        "ApplicationArn": arn,
        "ApplicationProviderArn": "arn:aws:sso::aws:applicationProvider/sagemaker",
        "Name": app.name,
        "ApplicationAccount": ACCOUNT_ID,
        "InstanceArn": state.instance_arn,
        "Status": "ENABLED",
        "PortalOptions": { "Visibility": "ENABLED", "SignInOptions": { "Origin": "IDENTITY_CENTER" } },
        "Description": app.description,
        "CreatedDate": app.created,
    }))
}

/// The assignment a request names (ApplicationArn, PrincipalId, PrincipalType), its
/// application checked to exist.
fn assignment_of(state: &State, req: Req) -> Result<Assignment, ApiError> {
    let application_arn = req.str("ApplicationArn")?;
    let principal_id = req.str("PrincipalId")?;
    let principal_type = req.principal_type()?;
    application(state, application_arn)?;
    Ok(Assignment { application_arn: application_arn.to_string(), principal_type, principal_id: principal_id.to_string() })
}

fn assignment_json(a: &Assignment) -> Value {
    json!({ "ApplicationArn": a.application_arn, "PrincipalId": a.principal_id, "PrincipalType": a.principal_type.as_str() })
}

fn create_assignment(state: &mut State, req: Req) -> ApiResult {
    let assignment = assignment_of(state, req)?;
    let known = match assignment.principal_type {
        PrincipalType::User => state.users.iter().any(|u| u.id == assignment.principal_id),
        PrincipalType::Group => state.groups.iter().any(|g| g.id == assignment.principal_id),
    };
    if !known {
        return Err(not_found(
            "PRINCIPAL",
            format!("{} {} does not exist in identity store {}", assignment.principal_type.as_str(), assignment.principal_id, state.identity_store_id),
        ));
    }
    if state.assignments.contains(&assignment) {
        return match state.duplicate_assignment {
            DuplicateAssignment::Conflict => Err(ApiError::new(
                "ConflictException",
                format!("{} {} is already assigned to {}", assignment.principal_type.as_str(), assignment.principal_id, assignment.application_arn),
            )),
            DuplicateAssignment::Succeed => Ok(json!({})),
        };
    }
    state.assignments.push(assignment);
    Ok(json!({}))
}

fn assignment_not_found(a: &Assignment) -> ApiError {
    not_found("APPLICATION_ASSIGNMENT", format!("{} {} is not assigned to {}", a.principal_type.as_str(), a.principal_id, a.application_arn))
}

fn delete_assignment(state: &mut State, req: Req) -> ApiResult {
    let assignment = assignment_of(state, req)?;
    let before = state.assignments.len();
    state.assignments.retain(|a| *a != assignment);
    if state.assignments.len() == before {
        return Err(assignment_not_found(&assignment));
    }
    Ok(json!({}))
}

fn describe_assignment(state: &mut State, req: Req) -> ApiResult {
    let assignment = assignment_of(state, req)?;
    if !state.assignments.contains(&assignment) {
        return Err(assignment_not_found(&assignment));
    }
    Ok(assignment_json(&assignment))
}

fn list_assignments(state: &mut State, req: Req) -> ApiResult {
    let arn = req.str("ApplicationArn")?;
    let max = req.max_results(state, 100)?;
    application(state, arn)?;
    let items: Vec<Value> = state.assignments.iter().filter(|a| a.application_arn == arn).map(assignment_json).collect();
    paged(&items, req, max, "ApplicationAssignments")
}

/// The principal's direct assignments (not those it has through a group), as AWS lists them.
fn list_assignments_for_principal(state: &mut State, req: Req) -> ApiResult {
    let instance = req.str("InstanceArn")?;
    let principal_id = req.str("PrincipalId")?;
    let principal_type = req.principal_type()?;
    let max = req.max_results(state, 100)?;
    let application = match req.0.get("Filter") {
        Some(Value::Object(_)) => req.obj("Filter")?.opt_str("ApplicationArn")?,
        _ => None,
    };
    if instance != state.instance_arn {
        return Err(not_found("INSTANCE", format!("Instance {instance} does not exist")));
    }
    let items: Vec<Value> = state
        .assignments
        .iter()
        .filter(|a| a.principal_id == principal_id && a.principal_type == principal_type)
        .filter(|a| application.is_none_or(|arn| a.application_arn == arn))
        .map(assignment_json)
        .collect();
    paged(&items, req, max, "ApplicationAssignments")
}

fn check_identity_store(state: &State, req: Req) -> Result<(), ApiError> {
    let id = req.str("IdentityStoreId")?;
    if id != state.identity_store_id {
        return Err(not_found("IDENTITY_STORE", format!("Identity store {id} does not exist")));
    }
    Ok(())
}

/// The UniqueAttribute of an AlternateIdentifier: (AttributePath, AttributeValue as a string).
/// ExternalId identifiers are valid in the API but nothing here has one, so they find nothing.
fn unique_attribute<'a>(req: Req<'a>) -> Result<Option<(&'a str, &'a str)>, ApiError> {
    let identifier = req.obj("AlternateIdentifier")?;
    if identifier.0.contains_key("ExternalId") {
        return Ok(None);
    }
    let unique = identifier.obj("UniqueAttribute")?;
    let path = unique.str("AttributePath")?;
    let value = match unique.0.get("AttributeValue") {
        Some(Value::String(value)) => value.as_str(),
        _ => return Err(ApiError::validation("AlternateIdentifier.UniqueAttribute.AttributeValue must be a string")),
    };
    Ok(Some((path, value)))
}

fn get_user_id(state: &mut State, req: Req) -> ApiResult {
    check_identity_store(state, req)?;
    let found = match unique_attribute(req)? {
        // Attribute paths are SCIM paths: case-insensitive.
        Some((path, value)) if path.eq_ignore_ascii_case("userName") => state.users.iter().find(|u| u.user_name == value),
        Some((path, value)) if path.eq_ignore_ascii_case("emails.value") => state.users.iter().find(|u| u.email.as_deref() == Some(value)),
        Some((path, _)) => {
            return Err(ApiError::validation(format!("Invalid AttributePath '{path}' for a user: use userName or emails.value")));
        }
        None => None,
    };
    let user = found.ok_or_else(|| not_found("USER", "USER not found."))?;
    Ok(json!({ "UserId": user.id, "IdentityStoreId": state.identity_store_id }))
}

fn get_group_id(state: &mut State, req: Req) -> ApiResult {
    check_identity_store(state, req)?;
    let found = match unique_attribute(req)? {
        Some((path, value)) if path.eq_ignore_ascii_case("displayName") => state.groups.iter().find(|g| g.display_name == value),
        Some((path, _)) => {
            return Err(ApiError::validation(format!("Invalid AttributePath '{path}' for a group: use displayName")));
        }
        None => None,
    };
    let group = found.ok_or_else(|| not_found("GROUP", "GROUP not found."))?;
    Ok(json!({ "GroupId": group.id, "IdentityStoreId": state.identity_store_id }))
}

/// MemberId is a union; UserId is its only member.
fn member_user_id<'a>(req: Req<'a>) -> Result<&'a str, ApiError> {
    req.obj("MemberId")?.str("UserId")
}

fn is_member_in_groups(state: &mut State, req: Req) -> ApiResult {
    check_identity_store(state, req)?;
    let user_id = member_user_id(req)?;
    let group_ids: Vec<&str> = match req.0.get("GroupIds") {
        Some(Value::Array(ids)) => ids.iter().filter_map(Value::as_str).collect(),
        _ => return Err(ApiError::validation("Value null at 'GroupIds' failed to satisfy constraint: Member must not be null")),
    };
    if !(1..=100).contains(&group_ids.len()) {
        return Err(ApiError::validation("GroupIds must hold between 1 and 100 group ids"));
    }
    let results: Vec<Value> = group_ids
        .iter()
        .map(|group_id| {
            let exists = state.memberships.iter().any(|m| m.group_id == *group_id && m.user_id == user_id);
            json!({ "GroupId": group_id, "MemberId": { "UserId": user_id }, "MembershipExists": exists })
        })
        .collect();
    Ok(json!({ "Results": results }))
}

fn list_memberships_for_member(state: &mut State, req: Req) -> ApiResult {
    check_identity_store(state, req)?;
    let user_id = member_user_id(req)?;
    let max = req.max_results(state, 100)?;
    if !state.users.iter().any(|u| u.id == user_id) {
        return Err(not_found("USER", format!("USER {user_id} not found.")));
    }
    let items: Vec<Value> = state
        .memberships
        .iter()
        .filter(|m| m.user_id == user_id)
        .map(|m| {
            json!({
                "IdentityStoreId": state.identity_store_id,
                "MembershipId": m.id,
                "GroupId": m.group_id,
                "MemberId": { "UserId": m.user_id },
            })
        })
        .collect();
    paged(&items, req, max, "GroupMemberships")
}
