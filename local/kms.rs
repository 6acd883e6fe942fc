//! A KMS emulator for signed continuations: HMAC keys and the calls that make and check a MAC
//! (CreateKey, DescribeKey, GenerateMac, VerifyMac, DisableKey, EnableKey, CreateAlias), with
//! real HMAC (RFC 2104 over SHA-2) and the errors KMS answers, in the order it checks them:
//! members, then the key (NotFoundException), its policy (AccessDeniedException), its state
//! (DisabledException), its usage and spec (InvalidKeyUsageException), then the MAC
//! (KMSInvalidMacException: VerifyMac never answers `MacValid: false`, per its output's
//! documentation), then DryRun.
//!
//! Protocol: awsJson1_1, `X-Amz-Target: TrentService.<Operation>`; blobs are base64 in JSON;
//! errors `{"__type", "message"}`. A key's policy is modelled as the access key ids allowed to
//! use it (each deployed function signs with its own name): everyone by default, see
//! [`Kms::set_key_users`]. Keys are SYMMETRIC_DEFAULT (ENCRYPT_DECRYPT, for usage errors) or
//! HMAC_224/256/384/512 (GENERATE_VERIFY_MAC); other specs are refused as unsupported here.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use emulator_kit::ids::{epoch_seconds, uuid_v4};
use emulator_kit::members::{Body, Checks, opt_bool, opt_str, opt_str_list};
use emulator_kit::{AwsError, Handle, Output, Protocol, Request, Route, Service, access_key_id};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Sha224, Sha256, Sha384, Sha512};

use crate::{ACCOUNT_ID, REGION};

const KEY_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "ECC_NIST_EDWARDS25519",
];
const KEY_USAGES: &[&str] = &["SIGN_VERIFY", "ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT"];
const MAC_ALGORITHMS: &[&str] = &["HMAC_SHA_224", "HMAC_SHA_256", "HMAC_SHA_384", "HMAC_SHA_512"];

/// A key as tests name it: its id and its ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRef {
    pub id: String,
    pub arn: String,
}

#[derive(Debug, Clone)]
struct Key {
    id: String,
    arn: String,
    spec: String,
    usage: String,
    enabled: bool,
    material: Vec<u8>,
    description: String,
    created: f64,
    /// The access key ids its policy allows; None: everyone.
    users: Option<BTreeSet<String>>,
}

impl Key {
    /// The one MAC algorithm of an HMAC key ("HMAC_256" -> "HMAC_SHA_256").
    fn mac_algorithm(&self) -> Option<String> {
        self.spec.strip_prefix("HMAC_").map(|bits| format!("HMAC_SHA_{bits}"))
    }

    fn metadata(&self) -> Value {
        let mut metadata = json!({
            "AWSAccountId": ACCOUNT_ID,
            "KeyId": self.id,
            "Arn": self.arn,
            "CreationDate": self.created,
            "Enabled": self.enabled,
            "Description": self.description,
            "KeyUsage": self.usage,
            "KeyState": if self.enabled { "Enabled" } else { "Disabled" },
            "Origin": "AWS_KMS",
            "KeyManager": "CUSTOMER",
            "CustomerMasterKeySpec": self.spec,
            "KeySpec": self.spec,
            "MultiRegion": false,
        });
        match self.mac_algorithm() {
            Some(algorithm) => metadata["MacAlgorithms"] = json!([algorithm]),
            None => metadata["EncryptionAlgorithms"] = json!(["SYMMETRIC_DEFAULT"]),
        }
        metadata
    }
}

#[derive(Default)]
struct State {
    keys: BTreeMap<String, Key>,
    /// "alias/name" -> key id.
    aliases: BTreeMap<String, String>,
}

/// A running KMS emulator; clones share it. Derefs to the kit's
/// [`Emulator`](emulator_kit::Emulator) (endpoint for AWS_ENDPOINT_URL_KMS, calls, faults).
#[derive(Clone)]
pub struct Kms(Handle<State>);

emulator_kit::deref_to_emulator!(Kms);

impl Kms {
    pub async fn start() -> std::io::Result<Self> {
        Ok(Self(Handle::start(State::default()).await?))
    }

    /// An enabled HMAC_256 key (GENERATE_VERIFY_MAC) that everyone may use, as the template's
    /// continuation key is.
    pub fn create_hmac_key(&self, description: &str) -> KeyRef {
        self.0.state().create_key("HMAC_256", "GENERATE_VERIFY_MAC", description)
    }

    /// Models the key policy: only these access key ids may use the key (None: everyone).
    /// `key` is a key id, key ARN, alias name or alias ARN; false when there is no such key.
    pub fn set_key_users(&self, key: &str, users: Option<&[&str]>) -> bool {
        let users = users.map(|users| users.iter().map(|u| u.to_string()).collect());
        self.0.state().key_mut(key).map(|k| k.users = users).is_some()
    }

    /// Enables or disables a key, as DisableKey / EnableKey do; false when there is no such key.
    pub fn set_key_enabled(&self, key: &str, enabled: bool) -> bool {
        self.0.state().key_mut(key).map(|k| k.enabled = enabled).is_some()
    }

    pub fn key_enabled(&self, key: &str) -> Option<bool> {
        self.0.state().key_mut(key).map(|k| k.enabled)
    }

    /// The MAC GenerateMac would answer for `message` (the key's own algorithm), e.g. to make a
    /// payload that verifies without calling KMS.
    pub fn mac(&self, key: &str, message: &[u8]) -> Option<Vec<u8>> {
        let mut state = self.0.state();
        let key = state.key_mut(key)?;
        hmac(&key.mac_algorithm()?, &key.material, message)
    }
}

/// How KeyId members may name a key.
#[derive(Clone, Copy, PartialEq)]
enum Naming {
    /// Key id or key ARN (DisableKey, EnableKey, CreateAlias's TargetKeyId).
    KeyOnly,
    /// Also an alias name or alias ARN (DescribeKey, GenerateMac, VerifyMac).
    KeyOrAlias,
}

impl State {
    fn create_key(&mut self, spec: &str, usage: &str, description: &str) -> KeyRef {
        let id = uuid_v4();
        let arn = format!("arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{id}");
        // HMAC_<bits>: a key of that many bits; SYMMETRIC_DEFAULT: 256 bits.
        let bytes = spec.strip_prefix("HMAC_").and_then(|bits| bits.parse::<usize>().ok()).map_or(32, |bits| bits / 8);
        let material = (0..bytes).map(|_| fastrand::u8(..)).collect();
        let key = Key {
            id: id.clone(),
            arn: arn.clone(),
            spec: spec.to_string(),
            usage: usage.to_string(),
            enabled: true,
            material,
            description: description.to_string(),
            created: epoch_seconds(),
            users: None,
        };
        self.keys.insert(id.clone(), key);
        KeyRef { id, arn }
    }

    fn key_mut(&mut self, given: &str) -> Option<&mut Key> {
        let id = self.resolve(given, Naming::KeyOrAlias).ok()?;
        self.keys.get_mut(&id)
    }

    /// The key id `given` names, or KMS's NotFoundException.
    fn resolve(&self, given: &str, naming: Naming) -> Result<String, AwsError> {
        let prefix = format!("arn:aws:kms:{REGION}:{ACCOUNT_ID}:");
        let (alias, id) = match given.strip_prefix(&prefix) {
            Some(rest) => match (rest.strip_prefix("key/"), rest.strip_prefix("alias/")) {
                (Some(id), _) => (None, Some(id)),
                (_, Some(name)) => (Some(format!("alias/{name}")), None),
                _ => (None, None),
            },
            None if given.starts_with("alias/") => (Some(given.to_string()), None),
            None if given.starts_with("arn:") => (None, None),
            None => (None, Some(given)),
        };
        match (alias, id) {
            (Some(alias), _) if naming == Naming::KeyOrAlias => {
                self.aliases.get(&alias).cloned().ok_or_else(|| AwsError::new("NotFoundException", format!("Alias {prefix}{alias} is not found.")))
            }
            (_, Some(id)) if self.keys.contains_key(id) => Ok(id.to_string()),
            (_, Some(id)) => Err(AwsError::new("NotFoundException", format!("Key '{prefix}key/{id}' does not exist"))),
            _ => Err(AwsError::new("NotFoundException", format!("Invalid keyId '{given}'"))),
        }
    }

    /// The key a request's `member` names, once its policy lets the caller use it.
    fn key_for(&self, body: &Body, member: &str, naming: Naming, call: &Call) -> Result<&Key, AwsError> {
        let id = self.resolve(opt_str(body, member)?.unwrap_or_default(), naming)?;
        let key = &self.keys[&id];
        match &key.users {
            Some(users) if !call.signer.as_ref().is_some_and(|s| users.contains(s)) => Err(AwsError::new(
                "AccessDeniedException",
                format!(
                    "User: {} is not authorized to perform: {} on resource: {} because no resource-based policy allows the {} action",
                    call.signer.as_deref().unwrap_or("anonymous"),
                    call.action,
                    key.arn,
                    call.action
                ),
            )),
            _ => Ok(key),
        }
    }
}

/// Who calls what.
struct Call {
    signer: Option<String>,
    /// "kms:GenerateMac".
    action: String,
}

const PROTOCOL: Protocol = Protocol::AwsJson { message_key: "message" };

impl Service for State {
    fn route(request: &Request) -> Route {
        let target = request.header("x-amz-target").unwrap_or_default();
        Route::new(target.strip_prefix("TrentService.").unwrap_or(target), "kms", PROTOCOL)
    }

    fn call(&mut self, route: &Route, request: &Request) -> Result<Output, AwsError> {
        let body = request.json_object()?;
        let call = Call { signer: request.header("authorization").and_then(access_key_id), action: route.action() };
        let answer = match route.operation.as_str() {
            "CreateKey" => create_key(self, &body),
            "DescribeKey" => describe_key(self, &body, &call),
            "GenerateMac" => mac_operation(self, &body, &call, None),
            "VerifyMac" => {
                let mac = blob(&body, "Mac")?;
                mac_operation(self, &body, &call, Some(mac))
            }
            "DisableKey" => set_enabled(self, &body, &call, false),
            "EnableKey" => set_enabled(self, &body, &call, true),
            "CreateAlias" => create_alias(self, &body, &call),
            _ => Err(AwsError::unknown_operation(request.header("x-amz-target").unwrap_or_default())),
        };
        answer.map(Output::Json)
    }
}

/// A base64 blob member (empty when absent; its checks say whether it may be).
fn blob(body: &Body, key: &str) -> Result<Vec<u8>, AwsError> {
    let text = opt_str(body, key)?.unwrap_or_default();
    BASE64.decode(text).map_err(|_| AwsError::serialization(format!("Member '{key}' is not valid base64")))
}

/// A required KeyId-like member: 1 to 2048 characters.
fn check_key_id(checks: &mut Checks, body: &Body, member: &str) -> Result<(), AwsError> {
    if let Some(id) = checks.required(member, opt_str(body, member)?) {
        checks.length(member, id, 1, 2048);
    }
    Ok(())
}

fn create_key(state: &mut State, body: &Body) -> Result<Value, AwsError> {
    let mut checks = Checks::default();
    // CustomerMasterKeySpec is the deprecated name of KeySpec.
    let spec = opt_str(body, "KeySpec")?.or(opt_str(body, "CustomerMasterKeySpec")?).unwrap_or("SYMMETRIC_DEFAULT");
    checks.one_of("KeySpec", spec, KEY_SPECS);
    let usage = opt_str(body, "KeyUsage")?.unwrap_or("ENCRYPT_DECRYPT");
    checks.one_of("KeyUsage", usage, KEY_USAGES);
    let description = opt_str(body, "Description")?.unwrap_or_default();
    checks.length("Description", description, 0, 8192);
    if let Some(policy) = opt_str(body, "Policy")? {
        checks.length("Policy", policy, 1, 131072);
    }
    checks.finish()?;
    let hmac_spec = spec.starts_with("HMAC_");
    if !(hmac_spec || spec == "SYMMETRIC_DEFAULT") {
        return Err(AwsError::new("UnsupportedOperationException", format!("KeySpec {spec}: this local KMS makes only SYMMETRIC_DEFAULT and HMAC keys")));
    }
    // CreateKey's KeyUsage: GENERATE_VERIFY_MAC for HMAC keys, ENCRYPT_DECRYPT (the default) for symmetric ones.
    if hmac_spec != (usage == "GENERATE_VERIFY_MAC") || (!hmac_spec && usage != "ENCRYPT_DECRYPT") {
        return Err(AwsError::validation(format!("KeyUsage {usage} is not compatible with KeySpec {spec}")));
    }
    if opt_str(body, "Origin")?.is_some_and(|o| o != "AWS_KMS") || opt_bool(body, "MultiRegion")? == Some(true) {
        return Err(AwsError::new("UnsupportedOperationException", "this local KMS makes only single-Region keys with Origin AWS_KMS"));
    }
    let key = state.create_key(spec, usage, description);
    Ok(json!({ "KeyMetadata": state.keys[&key.id].metadata() }))
}

fn describe_key(state: &mut State, body: &Body, call: &Call) -> Result<Value, AwsError> {
    let mut checks = Checks::default();
    check_key_id(&mut checks, body, "KeyId")?;
    checks.finish()?;
    Ok(json!({ "KeyMetadata": state.key_for(body, "KeyId", Naming::KeyOrAlias, call)?.metadata() }))
}

/// GenerateMac (`mac` None) or VerifyMac (the MAC to check).
fn mac_operation(state: &mut State, body: &Body, call: &Call, mac: Option<Vec<u8>>) -> Result<Value, AwsError> {
    let mut checks = Checks::default();
    check_key_id(&mut checks, body, "KeyId")?;
    let message = blob(body, "Message")?;
    if checks.required("Message", opt_str(body, "Message")?).is_some() {
        checks.blob_length("Message", message.len(), 1, 4096);
    }
    if let Some(mac) = &mac
        && checks.required("Mac", opt_str(body, "Mac")?).is_some()
    {
        checks.blob_length("Mac", mac.len(), 1, 6144);
    }
    let algorithm = checks.required("MacAlgorithm", opt_str(body, "MacAlgorithm")?).unwrap_or_default();
    if let Some(algorithm) = opt_str(body, "MacAlgorithm")? {
        checks.one_of("MacAlgorithm", algorithm, MAC_ALGORITHMS);
    }
    if let Some(tokens) = opt_str_list(body, "GrantTokens")? {
        checks.count("GrantTokens", &tokens, 0, 10);
    }
    checks.finish()?;
    let dry_run = opt_bool(body, "DryRun")?.unwrap_or(false);

    let key = state.key_for(body, "KeyId", Naming::KeyOrAlias, call)?;
    if !key.enabled {
        return Err(AwsError::new("DisabledException", format!("{} is disabled.", key.arn)));
    }
    let operation = call.action.trim_start_matches("kms:");
    if key.usage != "GENERATE_VERIFY_MAC" {
        return Err(AwsError::new("InvalidKeyUsageException", format!("{} key usage is {} which is not valid for {operation}.", key.arn, key.usage)));
    }
    // The algorithm must be the key's own: InvalidKeyUsageException covers "the algorithm is
    // incompatible with the type of key material in the KMS key (KeySpec)".
    if key.mac_algorithm().as_deref() != Some(algorithm) {
        return Err(AwsError::new("InvalidKeyUsageException", format!("Algorithm {algorithm} is incompatible with key spec {}.", key.spec)));
    }
    let expected = hmac(algorithm, &key.material, &message).unwrap_or_default();
    if let Some(mac) = &mac
        && !verify(algorithm, &key.material, &message, mac)
    {
        return Err(AwsError::new("KMSInvalidMacException", "The MAC does not verify for this message, KMS key and MAC algorithm."));
    }
    if dry_run {
        return Err(AwsError::new("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.").with_status(412));
    }
    Ok(match mac {
        None => json!({ "Mac": BASE64.encode(expected), "MacAlgorithm": algorithm, "KeyId": key.arn }),
        Some(_) => json!({ "MacValid": true, "MacAlgorithm": algorithm, "KeyId": key.arn }),
    })
}

fn set_enabled(state: &mut State, body: &Body, call: &Call, enabled: bool) -> Result<Value, AwsError> {
    let mut checks = Checks::default();
    check_key_id(&mut checks, body, "KeyId")?;
    checks.finish()?;
    let id = state.key_for(body, "KeyId", Naming::KeyOnly, call)?.id.clone();
    if let Some(key) = state.keys.get_mut(&id) {
        key.enabled = enabled;
    }
    Ok(json!({}))
}

fn create_alias(state: &mut State, body: &Body, call: &Call) -> Result<Value, AwsError> {
    let mut checks = Checks::default();
    let name = checks.required("AliasName", opt_str(body, "AliasName")?);
    if let Some(name) = name {
        checks.length("AliasName", name, 1, 256);
        let ok = name.chars().all(|c| c.is_ascii_alphanumeric() || ":/_-".contains(c));
        checks.pattern("AliasName", name, ok, "^[a-zA-Z0-9:/_-]+$");
    }
    check_key_id(&mut checks, body, "TargetKeyId")?;
    checks.finish()?;
    let name = name.unwrap_or_default();
    if !name.starts_with("alias/") {
        return Err(AwsError::new("InvalidAliasNameException", format!("Alias must start with the prefix \"alias/\": {name}")));
    }
    let alias_arn = format!("arn:aws:kms:{REGION}:{ACCOUNT_ID}:{name}");
    if state.aliases.contains_key(name) {
        return Err(AwsError::new("AlreadyExistsException", format!("An alias with the name {alias_arn} already exists")));
    }
    let id = state.key_for(body, "TargetKeyId", Naming::KeyOnly, call)?.id.clone();
    state.aliases.insert(name.to_string(), id);
    Ok(json!({}))
}

/// HMAC of `message` with `key` under a KMS MAC algorithm.
fn hmac(algorithm: &str, key: &[u8], message: &[u8]) -> Option<Vec<u8>> {
    fn digest<M: Mac + KeyInit>(key: &[u8], message: &[u8]) -> Option<Vec<u8>> {
        // HMAC takes keys of any length: this never fails.
        let mut mac = <M as KeyInit>::new_from_slice(key).ok()?;
        mac.update(message);
        Some(mac.finalize().into_bytes().to_vec())
    }
    match algorithm {
        "HMAC_SHA_224" => digest::<Hmac<Sha224>>(key, message),
        "HMAC_SHA_256" => digest::<Hmac<Sha256>>(key, message),
        "HMAC_SHA_384" => digest::<Hmac<Sha384>>(key, message),
        "HMAC_SHA_512" => digest::<Hmac<Sha512>>(key, message),
        _ => None,
    }
}

/// Whether `mac` is the HMAC of `message`, compared in constant time.
fn verify(algorithm: &str, key: &[u8], message: &[u8], mac: &[u8]) -> bool {
    let expected = hmac(algorithm, key, message).unwrap_or_default();
    expected.len() == mac.len() && expected.iter().zip(mac).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2.
    #[test]
    fn hmac_sha_256_matches_rfc_4231() {
        let mac = hmac("HMAC_SHA_256", b"Jefe", b"what do ya want for nothing?").unwrap();
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        let mac = hmac("HMAC_SHA_512", b"Jefe", b"what do ya want for nothing?").unwrap();
        assert!(hex::encode(mac).starts_with("164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd6"));
    }

    #[test]
    fn keys_are_named_by_id_arn_or_alias() {
        let mut state = State::default();
        let key = state.create_key("HMAC_256", "GENERATE_VERIFY_MAC", "");
        state.aliases.insert("alias/continuations".into(), key.id.clone());
        for given in [key.id.as_str(), key.arn.as_str(), "alias/continuations", &format!("arn:aws:kms:{REGION}:{ACCOUNT_ID}:alias/continuations")] {
            assert_eq!(state.resolve(given, Naming::KeyOrAlias).as_ref(), Ok(&key.id), "{given}");
        }
        assert_eq!(state.resolve("alias/continuations", Naming::KeyOnly).unwrap_err().code, "NotFoundException");
        assert_eq!(state.resolve("arn:aws:kms:eu-west-1:111111111111:key/x", Naming::KeyOrAlias).unwrap_err().code, "NotFoundException");
    }
}
