//! Rule 7 of issue 12: each function's role in template.yaml allows every SageMaker, S3,
//! Lambda, IAM Identity Center, EC2, EFS and KMS action the function calls. The calls are not
//! guessed from the code: each deployed function signs with its own name as access key id, the
//! emulators record (key id, operation), and the test plays the demo stack plus the calls the
//! demo does not make (a lifecycle config's tags-only Update that removes a tag, a sign-in URL, a
//! continuation), then checks every recorded call against the Allow statements of that
//! function's role: its inline `Policies` and every `AWS::IAM::Policy` attached to it (both
//! branches of an !If count as allowed).
//!
//! A statement allows a call when one of its actions matches, one of its resources matches each
//! resource the call is known to touch, and its conditions hold for what the test knows of the
//! request (see `Call`). What the recorders do not tell (the resource of a SageMaker, S3 or
//! Lambda call, the prefix of a ListObjectsV2) is not checked: those calls match on the action,
//! and a condition on a key in `NOT_MODELLED` is taken as met.

use local_cloud::cloud::LocalCloud;
use local_cloud::cloudformation::Status;
use local_cloud::lambda::signed_request_event;
use local_cloud::{ACCOUNT_ID, REGION};
use serde_json::json;
use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const FUNCTIONS: [&str; 5] = ["studio-domain", "studio-user-profile", "studio-space", "studio-lifecycle-config", "studio-signin-url"];
/// The functions that continue, and so sign continuations with the key.
const CONTINUING: [&str; 4] = ["studio-domain", "studio-user-profile", "studio-space", "studio-lifecycle-config"];

/// Condition keys whose value no recorder gives, each with the reason; a condition on one of them
/// is taken as met.
const NOT_MODELLED: [(&str, &str); 4] = [
    ("iam:PassedToService", "iam:PassRole is authorized inside SageMaker's CreateDomain/CreateUserProfile, which no emulator records"),
    ("iam:AWSServiceName", "iam:CreateServiceLinkedRole is never called locally"),
    ("kms:GrantIsForAWSResource", "kms:CreateGrant on DomainKmsKeyArns is made through SageMaker, which no emulator records"),
    ("s3:prefix", "the local S3 server records the operation, not a ListObjectsV2 prefix"),
];

/// Looks through CloudFormation's short-form tags (!If, !Sub, ...) to the value they wrap.
fn untagged(value: &Value) -> &Value {
    match value {
        Value::Tagged(tagged) => untagged(&tagged.value),
        other => other,
    }
}

fn get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    untagged(value).as_mapping()?.get(key)
}

/// Statements of a policy document, with both branches of each !If (AWS::NoValue dropped).
fn statements(value: &Value, out: &mut Vec<Value>) {
    match value {
        Value::Tagged(tagged) if tagged.tag == "If" => {
            for branch in tagged.value.as_sequence().into_iter().flatten().skip(1) {
                statements(branch, out);
            }
        }
        Value::Sequence(items) => items.iter().for_each(|item| statements(item, out)),
        Value::Mapping(_) => out.push(value.clone()),
        _ => {}
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value.map(untagged) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Sequence(items)) => items.iter().filter_map(|v| untagged(v).as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// What `!GetAtt X.Arn` stands for in this test (e.g. the continuation key's ARN).
type Attributes = BTreeMap<String, String>;

/// A value as the local cloud would deploy it: plain strings, `!Sub` of the pseudo parameters,
/// `!Ref` of a pseudo parameter, `!GetAtt` given in `attributes`; None for anything else (a
/// parameter, a list built with !Split, ...).
fn resolve(value: &Value, attributes: &Attributes) -> Option<String> {
    let pseudo = |name: &str| match name {
        "AWS::Partition" => Some("aws"),
        "AWS::Region" => Some(REGION),
        "AWS::AccountId" => Some(ACCOUNT_ID),
        _ => None,
    };
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Tagged(tagged) => {
            let inner = tagged.value.as_str()?;
            if tagged.tag == "Sub" {
                let mut out = inner.to_string();
                for name in ["AWS::Partition", "AWS::Region", "AWS::AccountId"] {
                    out = out.replace(&format!("${{{name}}}"), pseudo(name)?);
                }
                (!out.contains("${")).then_some(out)
            } else if tagged.tag == "Ref" {
                pseudo(inner).map(str::to_string)
            } else if tagged.tag == "GetAtt" {
                attributes.get(inner).cloned()
            } else {
                None
            }
        }
        _ => None,
    }
}

/// One condition of a statement: `operator` (without `IfExists`), key, values (None when the
/// test cannot resolve one).
#[derive(Debug, Clone)]
struct Condition {
    operator: String,
    if_exists: bool,
    key: String,
    values: Vec<Option<String>>,
}

/// One Allow statement of a role.
#[derive(Debug, Clone)]
struct Statement {
    sid: String,
    actions: Vec<String>,
    /// None when some resource cannot be resolved here (then any resource matches).
    resources: Option<Vec<String>>,
    conditions: Vec<Condition>,
}

impl Statement {
    fn read(value: &Value, attributes: &Attributes) -> Self {
        let sid = get(value, "Sid").and_then(Value::as_str).unwrap_or_default().to_string();
        let resources = match get(value, "Resource") {
            Some(v) => match untagged(v) {
                Value::Sequence(items) => items.iter().map(|item| resolve(item, attributes)).collect(),
                _ => resolve(v, attributes).map(|r| vec![r]),
            },
            None => None,
        };
        let mut conditions = Vec::new();
        for (operator, keys) in get(value, "Condition").and_then(|c| untagged(c).as_mapping()).into_iter().flatten() {
            let operator = operator.as_str().unwrap_or_default();
            let (operator, if_exists) = match operator.strip_suffix("IfExists") {
                Some(base) => (base.to_string(), true),
                None => (operator.to_string(), false),
            };
            for (key, values) in untagged(keys).as_mapping().into_iter().flatten() {
                let values = match untagged(values) {
                    Value::Sequence(items) => items.iter().map(|item| resolve(item, attributes)).collect(),
                    _ => vec![resolve(values, attributes)],
                };
                conditions.push(Condition { operator: operator.clone(), if_exists, key: key.as_str().unwrap_or_default().to_string(), values });
            }
        }
        Self { sid, actions: strings(get(value, "Action")), resources, conditions }
    }
}

/// A call as the emulators recorded it, with what the test knows of its request.
#[derive(Debug, Clone)]
struct Call {
    action: String,
    /// The resources IAM authorizes the call on ("*" for an action without resource types);
    /// empty when the recorder does not tell (then the resources are not checked).
    resources: Vec<String>,
    /// Request context keys (lower case) and their values.
    context: BTreeMap<String, String>,
    /// The resource's tags are in `context` (`aws:ResourceTag/...`), so a missing tag is missing.
    tags_known: bool,
}

impl Call {
    /// A call known by its action only; `aws:RequestedRegion` is always the local region.
    fn new(action: &str) -> Self {
        let context = BTreeMap::from([("aws:requestedregion".to_string(), REGION.to_string())]);
        Self { action: action.to_string(), resources: Vec::new(), context, tags_known: false }
    }

    fn on(mut self, resources: &[&str]) -> Self {
        self.resources = resources.iter().map(|r| r.to_string()).collect();
        self
    }

    fn with(mut self, key: &str, value: &str) -> Self {
        self.context.insert(key.to_ascii_lowercase(), value.to_string());
        self
    }

    /// The resource's tags, as `aws:ResourceTag/<key>` and (EC2) `ec2:ResourceTag/<key>`.
    fn tagged(mut self, tags: &[(String, String)]) -> Self {
        for (key, value) in tags {
            self = self.with(&format!("aws:ResourceTag/{key}"), value).with(&format!("ec2:ResourceTag/{key}"), value);
        }
        self.tags_known = true;
        self
    }
}

/// IAM's wildcard matching: `*` any run, `?` one character (actions compare case-insensitively).
fn wildcard(pattern: &str, value: &str, ignore_case: bool) -> bool {
    fn go(p: &[u8], a: &[u8], ignore_case: bool) -> bool {
        match (p.first(), a.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], a, ignore_case) || (!a.is_empty() && go(p, &a[1..], ignore_case)),
            (Some(b'?'), Some(_)) => go(&p[1..], &a[1..], ignore_case),
            (Some(x), Some(y)) if x == y || (ignore_case && x.eq_ignore_ascii_case(y)) => go(&p[1..], &a[1..], ignore_case),
            _ => false,
        }
    }
    go(pattern.as_bytes(), value.as_bytes(), ignore_case)
}

/// IAM's action matching: case-insensitive.
fn matches(pattern: &str, action: &str) -> bool {
    wildcard(pattern, action, true)
}

/// Whether one condition holds for the call; Err when the test cannot tell.
fn condition_holds(condition: &Condition, call: &Call) -> Result<bool, String> {
    let key = condition.key.to_ascii_lowercase();
    if NOT_MODELLED.iter().any(|(k, _)| k.eq_ignore_ascii_case(&key)) {
        return Ok(true);
    }
    let tag_key = key.starts_with("aws:resourcetag/") || key.starts_with("ec2:resourcetag/");
    let Some(actual) = call.context.get(&key) else {
        if !(tag_key && call.tags_known) {
            return Err(format!("iam.rs knows no value of {} for {}: teach it (Call::with) or list the key in NOT_MODELLED", condition.key, call.action));
        }
        // IAM: a key missing from the request matches only ...IfExists and Null: true.
        return Ok(match condition.operator.as_str() {
            "Null" => condition.values.iter().flatten().any(|v| v == "true"),
            _ => condition.if_exists,
        });
    };
    let values: Vec<&str> = condition
        .values
        .iter()
        .map(|v| v.as_deref().ok_or_else(|| format!("a value of {} in a condition cannot be resolved here", condition.key)))
        .collect::<Result<_, _>>()?;
    Ok(match condition.operator.as_str() {
        "StringEquals" | "ArnEquals" => values.iter().any(|v| v == actual),
        "StringNotEquals" | "ArnNotEquals" => values.iter().all(|v| v != actual),
        "StringLike" | "ArnLike" => values.iter().any(|v| wildcard(v, actual, false)),
        "StringNotLike" | "ArnNotLike" => values.iter().all(|v| !wildcard(v, actual, false)),
        "Bool" => values.iter().any(|v| v.eq_ignore_ascii_case(actual)),
        "Null" => values.contains(&"false"),
        other => return Err(format!("iam.rs does not evaluate the condition operator {other}: teach it")),
    })
}

/// Whether `statement` allows the call on `resource` (None: the resource is not known).
fn statement_allows(statement: &Statement, call: &Call, resource: Option<&str>) -> Result<bool, String> {
    if !statement.actions.iter().any(|pattern| matches(pattern, &call.action)) {
        return Ok(false);
    }
    if let (Some(resource), Some(patterns)) = (resource, &statement.resources)
        && !patterns.iter().any(|pattern| wildcard(pattern, resource, false))
    {
        return Ok(false);
    }
    for condition in &statement.conditions {
        if !condition_holds(condition, call).map_err(|why| format!("statement {}: {why}", statement.sid))? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether a role's statements allow the call on every resource it touches; Err says why the
/// test cannot decide.
fn allows(role: &[Statement], call: &Call) -> Result<bool, String> {
    let resources: Vec<Option<&str>> = if call.resources.is_empty() { vec![None] } else { call.resources.iter().map(|r| Some(r.as_str())).collect() };
    for resource in resources {
        let mut allowed = false;
        for statement in role {
            if statement_allows(statement, call, resource)? {
                allowed = true;
                break;
            }
        }
        if !allowed {
            return Ok(false);
        }
    }
    Ok(true)
}

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml");
    let text = std::fs::read_to_string(path).expect("template.yaml");
    serde_yaml::from_str(&text).expect("template.yaml parses")
}

fn resources(template: &Value) -> &serde_yaml::Mapping {
    get(template, "Resources").and_then(Value::as_mapping).expect("Resources")
}

/// The logical id a `!Ref X` or `!GetAtt X.Arn` names.
fn logical_id(value: &Value) -> Option<&str> {
    untagged(value).as_str().map(|s| s.split('.').next().unwrap_or_default())
}

/// binary name -> the Allow statements of its role, from template.yaml: the role's inline
/// Policies and every AWS::IAM::Policy that lists the role under Roles.
fn roles(attributes: &Attributes) -> BTreeMap<String, Vec<Statement>> {
    let template = template();
    let resources = resources(&template);
    let mut out = BTreeMap::new();
    for resource in resources.values() {
        if get(resource, "Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = get(resource, "Metadata").and_then(|m| get(m, "BuildProperties")).and_then(|b| get(b, "Binary"));
        let role = get(resource, "Properties").and_then(|p| get(p, "Role")).and_then(logical_id);
        let (Some(binary), Some(role_id)) = (binary.and_then(Value::as_str), role) else {
            panic!("every function names its Binary and a !GetAtt Role: {resource:?}");
        };
        let inline = resources
            .get(role_id)
            .and_then(|r| get(r, "Properties"))
            .and_then(|p| get(p, "Policies"))
            .and_then(|p| untagged(p).as_sequence())
            .unwrap_or_else(|| panic!("role {role_id} of {binary} has Policies"));
        let attached = resources.values().filter(|r| get(r, "Type").and_then(Value::as_str) == Some("AWS::IAM::Policy")).filter(|r| {
            let roles = get(r, "Properties").and_then(|p| get(p, "Roles")).and_then(|roles| untagged(roles).as_sequence());
            roles.into_iter().flatten().any(|r| logical_id(r) == Some(role_id))
        });
        let mut found = Vec::new();
        for policy in inline.iter().chain(attached.filter_map(|r| get(r, "Properties"))) {
            let document = get(policy, "PolicyDocument").and_then(|d| get(d, "Statement"));
            let mut all = Vec::new();
            statements(document.unwrap_or(&Value::Null), &mut all);
            for statement in all.iter().filter(|s| get(s, "Effect").and_then(Value::as_str) == Some("Allow")) {
                found.push(Statement::read(statement, attributes));
            }
        }
        out.insert(binary.to_string(), found);
    }
    out
}

/// The statements of the continuation key's own policy (principals as logical ids of roles, or
/// the literal principal).
fn key_policy() -> Vec<(Vec<String>, Statement)> {
    let template = template();
    let key = resources(&template).get("ContinuationKey").expect("template.yaml has the ContinuationKey");
    let policy = get(key, "Properties").and_then(|p| get(p, "KeyPolicy")).and_then(|d| get(d, "Statement")).expect("KeyPolicy");
    let mut all = Vec::new();
    statements(policy, &mut all);
    all.iter()
        .filter(|s| get(s, "Effect").and_then(Value::as_str) == Some("Allow"))
        .map(|s| {
            let principals = get(s, "Principal").and_then(|p| get(p, "AWS")).map(|aws| match untagged(aws) {
                Value::Sequence(items) => items.iter().map(|i| logical_id(i).unwrap_or_default().to_string()).collect(),
                _ => vec![match aws {
                    Value::Tagged(t) if t.tag == "GetAtt" => logical_id(aws).unwrap_or_default().to_string(),
                    other => resolve(other, &Attributes::new()).unwrap_or_default(),
                }],
            });
            (principals.unwrap_or_default(), Statement::read(s, &Attributes::new()))
        })
        .collect()
}

/// The IAM actions an S3 operation needs (s3s names operations as the S3 API does).
fn s3_actions(operation: &str) -> &'static [&'static str] {
    match operation {
        "PutObject" | "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload" => &["s3:PutObject"],
        "GetObject" | "HeadObject" => &["s3:GetObject"],
        "CopyObject" | "UploadPartCopy" => &["s3:GetObject", "s3:PutObject"],
        "DeleteObject" | "DeleteObjects" => &["s3:DeleteObject"],
        "AbortMultipartUpload" => &["s3:AbortMultipartUpload"],
        "ListObjects" | "ListObjectsV2" | "HeadBucket" => &["s3:ListBucket"],
        "ListMultipartUploads" => &["s3:ListBucketMultipartUploads"],
        "ListParts" => &["s3:ListMultipartUploadParts"],
        other => panic!("S3 operation {other} has no IAM action in this test yet: add it"),
    }
}

/// A KMS call on the continuation key (`CONTINUATION_KMS_KEY_ID`, an id or an ARN).
fn kms_call(action: &str, key: &str) -> Call {
    let arn = if key.starts_with("arn:") { key.to_string() } else { format!("arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key}") };
    Call::new(action).on(&[&arn])
}

/// What the IAM Identity Center calls of the test touch: the SSO domain's application, the
/// instance's identity store, and a user and a group of it.
#[derive(Clone)]
struct IdentityCenterResources {
    application: String,
    identity_store: String,
    user: String,
    group: String,
}

/// An IAM Identity Center call with the resources IAM authorizes it on (Service Authorization
/// Reference: AWS IAM Identity Center, AWS Identity Store).
fn identity_center_call(action: &str, r: &IdentityCenterResources) -> Call {
    let memberships = "arn:aws:identitystore:::membership/*";
    let resources: Vec<&str> = match action {
        "sso:ListInstances" => vec!["*"],
        "sso:DescribeApplication" | "sso:ListApplicationAssignments" | "sso:CreateApplicationAssignment" | "sso:DeleteApplicationAssignment" => {
            vec![&r.application]
        }
        "identitystore:GetUserId" => vec![&r.identity_store, &r.user],
        "identitystore:GetGroupId" => vec![&r.identity_store, &r.group],
        "identitystore:IsMemberInGroups" => vec![&r.identity_store, &r.user, &r.group, memberships],
        other => panic!("iam.rs does not know the resources of {other}: add them (Service Authorization Reference)"),
    };
    Call::new(action).on(&resources)
}

/// An EC2 or EFS call of a domain's Delete: Describe* on "*" (no resource types), the home EFS,
/// or each of the domain's NFS groups with its tags (one call per group: each must be allowed).
fn network_calls(action: &str, home_efs: &str, groups: &[(String, Vec<(String, String)>)]) -> Vec<Call> {
    match action {
        "ec2:DescribeSecurityGroups" | "ec2:DescribeNetworkInterfaces" => vec![Call::new(action).on(&["*"])],
        "elasticfilesystem:DescribeFileSystems" | "elasticfilesystem:DescribeMountTargets" => {
            vec![Call::new(action).on(&[&format!("arn:aws:elasticfilesystem:{REGION}:{ACCOUNT_ID}:file-system/{home_efs}")])]
        }
        "ec2:RevokeSecurityGroupIngress" | "ec2:RevokeSecurityGroupEgress" | "ec2:DeleteSecurityGroup" => {
            groups.iter().map(|(id, tags)| Call::new(action).on(&[&format!("arn:aws:ec2:{REGION}:{ACCOUNT_ID}:security-group/{id}")]).tagged(tags)).collect()
        }
        other => panic!("iam.rs does not know the resources of {other}: add them (Service Authorization Reference)"),
    }
}

/// `!GetAtt` values as the local cloud deploys them.
fn local_attributes(continuation_key: &str) -> Attributes {
    Attributes::from([("ContinuationKey.Arn".to_string(), kms_call("kms:GenerateMac", continuation_key).resources[0].clone())])
}

const TEST_KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/0e5c7a1f-1111-4222-8333-444455556666";

#[test]
fn the_checker_reads_the_template_and_refuses_what_a_role_lacks() {
    let roles = roles(&local_attributes(TEST_KEY));
    assert_eq!(roles.keys().map(String::as_str).collect::<BTreeSet<_>>(), FUNCTIONS.into_iter().collect());
    let signin = &roles["studio-signin-url"];
    assert_eq!(allows(signin, &Call::new("sagemaker:CreatePresignedDomainUrl")), Ok(true));
    assert_eq!(allows(signin, &Call::new("sagemaker:DeleteDomain")), Ok(false), "a role allows only what it lists");
    assert!(matches("s3:Get*", "s3:GetObject") && !matches("s3:Get*", "s3:PutObject"));
    // Conditional statements (!If) count: the lifecycle function's staging is behind one.
    let put = Call::new("s3:PutObject").with("aws:ResourceAccount", ACCOUNT_ID);
    assert_eq!(allows(&roles["studio-lifecycle-config"], &put), Ok(true));
    // Conditions are evaluated: another account's bucket is refused.
    let elsewhere = Call::new("s3:PutObject").with("aws:ResourceAccount", "210987654321");
    assert_eq!(allows(&roles["studio-lifecycle-config"], &elsewhere), Ok(false));
    // A condition key the test has no value for is an error, not a silent pass.
    assert!(allows(&roles["studio-lifecycle-config"], &Call::new("s3:PutObject")).is_err());
}

#[test]
fn only_the_four_custom_resource_roles_may_sign_continuations_and_only_with_the_key() {
    let roles = roles(&local_attributes(TEST_KEY));
    for function in CONTINUING {
        for action in ["kms:GenerateMac", "kms:VerifyMac"] {
            assert_eq!(allows(&roles[function], &kms_call(action, TEST_KEY)), Ok(true), "{function}: {action}");
            let other = kms_call(action, "arn:aws:kms:us-east-1:123456789012:key/another-key");
            assert_eq!(allows(&roles[function], &other), Ok(false), "{function}: {action} on another key");
        }
        // A key id (as CONTINUATION_KMS_KEY_ID may be) is the same key.
        let id = TEST_KEY.rsplit('/').next().unwrap_or_default();
        assert_eq!(allows(&roles[function], &kms_call("kms:VerifyMac", id)), Ok(true));
        assert_eq!(allows(&roles[function], &kms_call("kms:Decrypt", TEST_KEY)), Ok(false), "{function}: MACs only");
    }
    assert_eq!(allows(&roles["studio-signin-url"], &kms_call("kms:GenerateMac", TEST_KEY)), Ok(false), "the sign-in function never continues");

    // The key's own policy: use rights for exactly the four roles, administration without use
    // for the account.
    let policy = key_policy();
    let users: BTreeSet<&str> = policy
        .iter()
        .filter(|(_, s)| s.actions.iter().any(|a| matches(a, "kms:GenerateMac")) && s.actions.iter().any(|a| matches(a, "kms:VerifyMac")))
        .flat_map(|(principals, _)| principals.iter().map(String::as_str))
        .collect();
    let expected = ["StudioDomainRole", "StudioUserProfileRole", "StudioSpaceRole", "StudioLifecycleConfigRole"];
    assert_eq!(users, expected.into_iter().collect(), "who may make and verify MACs");
    let root = format!("arn:aws:iam::{ACCOUNT_ID}:root");
    let admin: Vec<&Statement> = policy.iter().filter(|(p, _)| p.contains(&root)).map(|(_, s)| s).collect();
    assert!(admin.iter().any(|s| s.actions.iter().any(|a| matches(a, "kms:PutKeyPolicy"))), "the account can still manage the key");
    for use_right in ["kms:GenerateMac", "kms:VerifyMac", "kms:CreateGrant", "kms:Encrypt", "kms:Decrypt"] {
        assert!(!admin.iter().any(|s| s.actions.iter().any(|a| matches(a, use_right))), "the account statement grants {use_right}");
    }
}

#[test]
fn nfs_security_groups_are_deletable_only_when_sagemaker_tagged_them_for_a_domain_of_this_account() {
    let roles = roles(&local_attributes(TEST_KEY));
    let domain = &roles["studio-domain"];
    let group = format!("arn:aws:ec2:{REGION}:{ACCOUNT_ID}:security-group/sg-0123456789abcdef0");
    let tag = |value: &str| vec![("ManagedByAmazonSageMakerResource".to_string(), value.to_string())];
    let ours = tag(&format!("arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:domain/d-abc123def456"));
    for action in ["ec2:DeleteSecurityGroup", "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress"] {
        assert_eq!(allows(domain, &Call::new(action).on(&[&group]).tagged(&ours)), Ok(true), "{action} on a domain's NFS group");
        assert_eq!(allows(domain, &Call::new(action).on(&[&group]).tagged(&[])), Ok(false), "{action} on an untagged group");
        let theirs = tag("arn:aws:sagemaker:us-east-1:210987654321:domain/d-abc123def456");
        assert_eq!(allows(domain, &Call::new(action).on(&[&group]).tagged(&theirs)), Ok(false), "{action}: another account's domain");
        let elsewhere = tag(&format!("arn:aws:sagemaker:eu-west-1:{ACCOUNT_ID}:domain/d-abc123def456"));
        assert_eq!(allows(domain, &Call::new(action).on(&[&group]).tagged(&elsewhere)), Ok(false), "{action}: another Region's domain");
        let other = vec![("Team".to_string(), "ml".to_string())];
        assert_eq!(allows(domain, &Call::new(action).on(&[&group]).tagged(&other)), Ok(false), "{action}: a group of someone else");
    }
}

#[test]
fn identity_center_assignments_reach_only_this_accounts_applications() {
    let roles = roles(&local_attributes(TEST_KEY));
    let ours = IdentityCenterResources {
        application: format!("arn:aws:sso::{ACCOUNT_ID}:application/ssoins-0123456789abcdef/apl-0123456789abcdef"),
        identity_store: format!("arn:aws:identitystore::{ACCOUNT_ID}:identitystore/d-1234567890"),
        user: "arn:aws:identitystore:::user/9067c4e4-5061-7032-a9d0-b5d2f1e1d3a1".into(),
        group: "arn:aws:identitystore:::group/a4e8b4d8-1071-70a2-55c3-7d6c3a7ee2b1".into(),
    };
    let theirs =
        IdentityCenterResources { application: "arn:aws:sso::210987654321:application/ssoins-0123456789abcdef/apl-0123456789abcdef".into(), ..ours.clone() };
    for function in ["studio-domain", "studio-user-profile"] {
        for action in ["sso:CreateApplicationAssignment", "sso:DeleteApplicationAssignment", "sso:DescribeApplication"] {
            assert_eq!(allows(&roles[function], &identity_center_call(action, &ours)), Ok(true), "{function}: {action}");
            assert_eq!(allows(&roles[function], &identity_center_call(action, &theirs)), Ok(false), "{function}: {action} on another account's application");
        }
        assert_eq!(allows(&roles[function], &identity_center_call("identitystore:GetUserId", &ours)), Ok(true), "{function}");
        assert_eq!(allows(&roles[function], &Call::new("sso:CreateApplicationAssignment").on(&["*"])), Ok(false), "{function}: not on *");
    }
    assert_eq!(allows(&roles["studio-space"], &identity_center_call("sso:CreateApplicationAssignment", &ours)), Ok(false));
}

#[test]
fn every_wildcard_resource_is_explained_in_the_template_metadata() {
    let template = template();
    let explained: BTreeSet<String> = get(&template, "Metadata")
        .and_then(|m| get(m, "WildcardResources"))
        .and_then(|w| untagged(w).as_mapping())
        .expect("Metadata.WildcardResources")
        .iter()
        .filter(|(_, why)| why.as_str().is_some_and(|w| w.len() > 20))
        .filter_map(|(key, _)| key.as_str().map(str::to_string))
        .collect();
    let mut wildcards = BTreeSet::new();
    for (id, resource) in resources(&template) {
        let id = id.as_str().unwrap_or_default();
        let properties = get(resource, "Properties");
        let documents: Vec<&Value> = match get(resource, "Type").and_then(Value::as_str) {
            Some("AWS::IAM::Role") => properties
                .and_then(|p| get(p, "Policies"))
                .and_then(|p| untagged(p).as_sequence())
                .into_iter()
                .flatten()
                .filter_map(|p| get(p, "PolicyDocument"))
                .collect(),
            Some("AWS::IAM::Policy") => properties.and_then(|p| get(p, "PolicyDocument")).into_iter().collect(),
            Some("AWS::KMS::Key") => properties.and_then(|p| get(p, "KeyPolicy")).into_iter().collect(),
            _ => Vec::new(),
        };
        for document in documents {
            let mut all = Vec::new();
            statements(get(document, "Statement").unwrap_or(&Value::Null), &mut all);
            for statement in all {
                if strings(get(&statement, "Resource")).iter().any(|r| r == "*") {
                    wildcards.insert(format!("{id}.{}", get(&statement, "Sid").and_then(Value::as_str).unwrap_or("<no Sid>")));
                }
            }
        }
    }
    let unexplained: Vec<&String> = wildcards.difference(&explained).collect();
    assert!(unexplained.is_empty(), "Resource \"*\" without a line in Metadata.WildcardResources: {unexplained:?}");
    let stale: Vec<&String> = explained.difference(&wildcards).collect();
    assert!(stale.is_empty(), "Metadata.WildcardResources explains statements without \"*\": {stale:?}");
}

#[tokio::test]
async fn every_call_a_function_makes_is_allowed_by_its_role() {
    let options = sagemaker_emulator::Options { transition_delay: Duration::from_millis(100), ..Default::default() };
    let cloud = LocalCloud::start_with(options).await.expect("local cloud");
    // The demo's own test checks its outcome; here only the calls it made matter.
    if let Err(e) = local_cloud::demo::play_stack(&cloud).await {
        eprintln!("demo: {e} (see tests/e2e/demo.rs)");
    }

    // A tags-only Update of a lifecycle config that drops a tag: AddTags and DeleteTags.
    let config = |tags: serde_json::Value| json!({"StudioLifecycleConfigName": "iam-check", "StudioLifecycleConfigAppType": "JupyterLab", "Commands": ["echo hi"], "Tags": tags});
    let old = config(json!([{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]));
    let new = config(json!([{"Key": "a", "Value": "changed"}]));
    let created = cloud.cfn.create("studio-lifecycle-config", "IamConfig", old.clone()).await.expect("Create response");
    assert_eq!(created.status, Status::Success, "{:?}", created.reason);
    let updated = cloud.cfn.update("studio-lifecycle-config", "IamConfig", &created.physical_resource_id, new, old).await.expect("Update response");
    assert_eq!(updated.status, Status::Success, "{:?}", updated.reason);

    // A sign-in URL for a profile of an IAM domain.
    let client = cloud.sagemaker_client();
    let domain = client
        .create_domain()
        .domain_name("iam-check")
        .auth_mode(aws_sdk_sagemaker::types::AuthMode::Iam)
        .default_user_settings(aws_sdk_sagemaker::types::UserSettings::builder().execution_role("arn:aws:iam::123456789012:role/x").build())
        .subnet_ids("subnet-0a")
        .vpc_id("vpc-0a")
        .send()
        .await
        .expect("CreateDomain");
    let domain_id = domain.domain_id().unwrap_or_default().to_string();
    let in_service = |status: Option<&str>| status == Some("InService");
    for _ in 0..100 {
        let d = client.describe_domain().domain_id(&domain_id).send().await.ok();
        if in_service(d.as_ref().and_then(|d| d.status()).map(|s| s.as_str())) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client.create_user_profile().domain_id(&domain_id).user_profile_name("alice").send().await.expect("CreateUserProfile");
    for _ in 0..100 {
        let p = client.describe_user_profile().domain_id(&domain_id).user_profile_name("alice").send().await.ok();
        if in_service(p.as_ref().and_then(|p| p.status()).map(|s| s.as_str())) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Through its Function URL, as a trusted portal backend (a direct invoke is refused).
    let portal_role = "arn:aws:iam::123456789012:role/PortalBackend";
    let env = [("SIGNIN_TRUSTED_CALLER_ARNS", portal_role), ("SIGNIN_DOMAIN_IDS", domain_id.as_str())];
    cloud.deploy_with("studio-signin-url", Duration::from_secs(30), &env).await.expect("deploy studio-signin-url");
    let body = json!({"DomainId": domain_id, "UserProfileName": "alice"}).to_string();
    let caller = "arn:aws:sts::123456789012:assumed-role/PortalBackend/portal";
    let url = cloud.lambda.invoke_url("studio-signin-url", signed_request_event(caller, "POST", &body)).await.expect("the URL answers");
    assert_eq!(url.status, 200, "{url:?}");

    // IAM Identity Center and EC2/EFS: an SSO domain with a user assigned, an SSO profile that
    // assigns its own user (its Delete removes that), and a Delete that removes the home EFS and
    // then the NFS security groups.
    let ines = cloud.identity_center.add_user("ines");
    cloud.identity_center.add_user("omar");
    let analysts = cloud.identity_center.add_group("analysts");
    let sso_domain = json!({
        "DomainName": "iam-sso", "AuthMode": "SSO", "VpcId": "vpc-0sso", "SubnetIds": ["subnet-0a"],
        "DefaultUserSettings": {"ExecutionRole": "arn:aws:iam::123456789012:role/x"},
        "SingleSignOnUsers": ["ines"], "SingleSignOnGroups": ["analysts"], "RetentionPolicy": {"HomeEfsFileSystem": "Delete"}
    });
    let sso = cloud.cfn.create("studio-domain", "SsoDomain", sso_domain.clone()).await.expect("Create response");
    assert_eq!(sso.status, Status::Success, "{:?}", sso.reason);
    let identity_center = IdentityCenterResources {
        application: sso.data.get("SingleSignOnApplicationArn").cloned().expect("SingleSignOnApplicationArn"),
        identity_store: format!("arn:aws:identitystore::{ACCOUNT_ID}:identitystore/{}", cloud.identity_center.identity_store_id()),
        user: format!("arn:aws:identitystore:::user/{ines}"),
        group: format!("arn:aws:identitystore:::group/{analysts}"),
    };
    let home_efs = sso.data.get("HomeEfsFileSystemId").cloned().expect("HomeEfsFileSystemId");
    // The domain's NFS groups with their tags, before its Delete removes them: every EC2 call that
    // changes a group is checked against both.
    let nfs_groups: Vec<(String, Vec<(String, String)>)> =
        cloud.network.security_groups().into_iter().filter(|g| g.vpc_id == "vpc-0sso").map(|g| (g.id, g.tags)).collect();
    assert_eq!(nfs_groups.len(), 2, "the SSO domain's two NFS groups: {nfs_groups:?}");
    let omar =
        json!({"DomainId": sso.physical_resource_id, "UserProfileName": "omar", "SingleSignOnUserIdentifier": "UserName", "SingleSignOnUserValue": "omar"});
    let profile = cloud.cfn.create("studio-user-profile", "Omar", omar.clone()).await.expect("Create response");
    assert_eq!(profile.status, Status::Success, "{:?}", profile.reason);
    let deleted = cloud.cfn.delete("studio-user-profile", "Omar", &profile.physical_resource_id, omar).await.expect("Delete response");
    assert_eq!(deleted.status, Status::Success, "{:?}", deleted.reason);
    let deleted = cloud.cfn.delete("studio-domain", "SsoDomain", &sso.physical_resource_id, sso_domain).await.expect("Delete response");
    assert_eq!(deleted.status, Status::Success, "{:?}", deleted.reason);
    assert!(nfs_groups.iter().all(|(id, _)| cloud.network.security_group(id).is_none()), "the Delete removed the NFS groups");

    // A continuation: a 3 s Lambda timeout against 4 s transitions makes the domain function
    // invoke itself (lambda:InvokeFunction).
    let slow_options = sagemaker_emulator::Options { transition_delay: Duration::from_secs(4), ..Default::default() };
    let slow = LocalCloud::start_with(slow_options).await.expect("local cloud");
    slow.deploy_with("studio-domain", Duration::from_secs(3), &[]).await.expect("deploy studio-domain");
    let domain_props = json!({
        "DomainName": "slow", "AuthMode": "IAM", "VpcId": "vpc-0a", "SubnetIds": ["subnet-0a"],
        "DefaultUserSettings": {"ExecutionRole": "arn:aws:iam::123456789012:role/x"}
    });
    let created = slow.cfn.create("studio-domain", "SlowDomain", domain_props).await.expect("Create response");
    assert_eq!(created.status, Status::Success, "{:?}", created.reason);

    // The continuation key the functions were given (the local cloud's KMS sets it in their
    // environment).
    let continuation_key = cloud.function_env().into_iter().find(|(name, _)| name == "CONTINUATION_KMS_KEY_ID").map_or(TEST_KEY.to_string(), |(_, v)| v);

    let mut calls: BTreeMap<String, Vec<Call>> = BTreeMap::new();
    let mut record = |function: String, call: Call| calls.entry(function).or_default().push(call);
    // The emulator kit records each call's IAM action; resources and conditions come from what
    // the call named.
    let iam_named = [&cloud, &slow]
        .into_iter()
        .flat_map(|c| [&*c.sagemaker, &*c.identity_center, &*c.network, &*c.kms, &*c.cloudformation_api].map(|emulator| emulator.signed_actions()));
    for (function, action) in iam_named.flatten().filter(|(key, _)| FUNCTIONS.contains(&key.as_str())) {
        if action.starts_with("kms:") {
            record(function, kms_call(&action, &continuation_key));
        } else if action.starts_with("sso:") || action.starts_with("identitystore:") {
            record(function, identity_center_call(&action, &identity_center));
        } else if action.starts_with("ec2:") || action.starts_with("elasticfilesystem:") {
            network_calls(&action, &home_efs, &nfs_groups).into_iter().for_each(|call| record(function.clone(), call));
        } else {
            record(function, Call::new(&action));
        }
    }
    let recorded = [&cloud, &slow].into_iter().flat_map(|c| [(c.s3.signed_calls(), "s3"), (c.lambda.signed_calls(), "lambda")]);
    for (records, service) in recorded {
        for (function, operation) in records.into_iter().filter(|(key, _)| FUNCTIONS.contains(&key.as_str())) {
            match service {
                // Every local bucket is this account's (the functions send ExpectedBucketOwner).
                "s3" => s3_actions(&operation).iter().for_each(|a| record(function.clone(), Call::new(a).with("aws:ResourceAccount", ACCOUNT_ID))),
                _ => record(function, Call::new("lambda:InvokeFunction")),
            }
        }
    }
    let played = |function: &str| -> BTreeSet<String> { calls.get(function).into_iter().flatten().map(|c| c.action.clone()).collect() };
    for function in FUNCTIONS {
        assert!(played(function).len() > 1, "{function} made recorded calls: {calls:?}");
    }
    assert!(played("studio-lifecycle-config").contains("sagemaker:DeleteTags"), "the tag removal was played");
    assert!(played("studio-lifecycle-config").contains("s3:PutObject"), "the asset staging was played");
    assert!(played("studio-domain").contains("lambda:InvokeFunction"), "the continuation was played");
    for action in [
        "sso:CreateApplicationAssignment",
        "identitystore:GetUserId",
        "identitystore:GetGroupId",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:DeleteSecurityGroup",
        "elasticfilesystem:DescribeFileSystems",
    ] {
        assert!(played("studio-domain").contains(action), "{action} was played: {:?}", played("studio-domain"));
    }
    assert!(played("studio-user-profile").contains("sso:DeleteApplicationAssignment"), "the profile's assignment was removed");

    let roles = roles(&local_attributes(&continuation_key));
    let mut denied = BTreeSet::new();
    for (function, calls) in &calls {
        for call in calls {
            match allows(&roles[function], call) {
                Ok(true) => {}
                Ok(false) => {
                    denied.insert(format!("{function}: {} on {:?}", call.action, call.resources));
                }
                Err(why) => panic!("{function}: {why}"),
            }
        }
    }
    assert!(denied.is_empty(), "template.yaml's roles do not allow: {denied:#?}\nrecorded: {calls:#?}");
}
