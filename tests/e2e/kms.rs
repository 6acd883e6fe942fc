//! The KMS emulator (signed continuations' GenerateMac / VerifyMac), driven by the real
//! aws-sdk-kms client: real HMACs, and each error as KMS answers it.

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType, MacAlgorithmSpec};
use local_cloud::cloud::LocalCloud;
use local_cloud::kms::Kms;

/// A client that signs as `access_key` (deployed functions sign with their own name).
fn client(kms: &Kms, access_key: &str) -> aws_sdk_kms::Client {
    let config = aws_sdk_kms::Config::builder()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .region(aws_sdk_kms::config::Region::new("us-east-1"))
        .endpoint_url(kms.endpoint())
        .credentials_provider(aws_sdk_kms::config::Credentials::new(access_key, "secret", None, None, "test"))
        .build();
    aws_sdk_kms::Client::from_conf(config)
}

/// An HMAC_256 key made through the API; its ARN.
async fn hmac_key(client: &aws_sdk_kms::Client) -> String {
    let out = client.create_key().key_spec(KeySpec::Hmac256).key_usage(KeyUsageType::GenerateVerifyMac).send().await.expect("CreateKey");
    out.key_metadata().and_then(|m| m.arn()).expect("the key's ARN").to_string()
}

async fn mac(client: &aws_sdk_kms::Client, key: &str, message: &[u8]) -> Result<Vec<u8>, (String, String)> {
    client
        .generate_mac()
        .key_id(key)
        .message(Blob::new(message))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .map(|out| out.mac().expect("Mac").as_ref().to_vec())
        .map_err(|e| (e.code().unwrap_or_default().to_string(), e.message().unwrap_or_default().to_string()))
}

async fn verify(client: &aws_sdk_kms::Client, key: &str, message: &[u8], mac: &[u8]) -> Result<bool, String> {
    client
        .verify_mac()
        .key_id(key)
        .message(Blob::new(message))
        .mac(Blob::new(mac))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .map(|out| out.mac_valid())
        .map_err(|e| e.code().unwrap_or_default().to_string())
}

#[tokio::test]
async fn a_mac_verifies_for_its_message_and_key_only() {
    let kms = Kms::start().await.unwrap();
    let client = client(&kms, "test");
    let key = hmac_key(&client).await;
    let described = client.describe_key().key_id(&key).send().await.expect("DescribeKey");
    let metadata = described.key_metadata().expect("KeyMetadata");
    assert_eq!((metadata.key_spec(), metadata.key_usage()), (Some(&KeySpec::Hmac256), Some(&KeyUsageType::GenerateVerifyMac)));
    assert_eq!(metadata.mac_algorithms(), [MacAlgorithmSpec::HmacSha256]);
    assert_eq!(metadata.key_state(), Some(&KeyState::Enabled));

    let payload = br#"{"progress":"Deleting","attempt":3}"#;
    let signed = mac(&client, &key, payload).await.expect("GenerateMac");
    assert_eq!(signed.len(), 32, "HMAC-SHA256");
    assert_eq!(Some(signed.clone()), kms.mac(&key, payload), "the key's real HMAC");
    assert_eq!(mac(&client, &key, payload).await.expect("again"), signed, "deterministic");
    assert_eq!(verify(&client, &key, payload, &signed).await, Ok(true));

    // Any change to the payload, the MAC or the key fails with the exception, never MacValid false.
    let mut tampered = payload.to_vec();
    tampered[14] = b'X';
    assert_eq!(verify(&client, &key, &tampered, &signed).await, Err("KMSInvalidMacException".into()));
    let mut flipped = signed.clone();
    flipped[0] ^= 1;
    assert_eq!(verify(&client, &key, payload, &flipped).await, Err("KMSInvalidMacException".into()));
    assert_eq!(verify(&client, &key, payload, &signed[..16]).await, Err("KMSInvalidMacException".into()));
    let other = hmac_key(&client).await;
    assert_eq!(verify(&client, &other, payload, &signed).await, Err("KMSInvalidMacException".into()));
}

#[tokio::test]
async fn keys_are_named_by_id_arn_or_alias_and_unknown_ones_are_not_found() {
    let kms = Kms::start().await.unwrap();
    let client = client(&kms, "test");
    let arn = hmac_key(&client).await;
    let id = arn.rsplit('/').next().unwrap().to_string();
    client.create_alias().alias_name("alias/continuations").target_key_id(&id).send().await.expect("CreateAlias");
    let alias_arn = "arn:aws:kms:us-east-1:123456789012:alias/continuations";
    let expected = mac(&client, &arn, b"m").await.expect("by ARN");
    for name in [id.as_str(), "alias/continuations", alias_arn] {
        assert_eq!(mac(&client, name, b"m").await.as_ref(), Ok(&expected), "{name}");
    }
    let err = client.create_alias().alias_name("alias/continuations").target_key_id(&id).send().await.expect_err("taken");
    assert_eq!(err.code(), Some("AlreadyExistsException"));

    let unknown = "arn:aws:kms:us-east-1:123456789012:key/0c5a1a4e-0000-4000-8000-000000000000";
    for name in [unknown, "alias/nothing", "not-a-key"] {
        let (code, _) = mac(&client, name, b"m").await.expect_err("unknown");
        assert_eq!(code, "NotFoundException", "{name}");
        let err = client.describe_key().key_id(name).send().await.expect_err("unknown");
        assert!(err.as_service_error().is_some_and(|e| e.is_not_found_exception()), "{name}: {err:?}");
    }
    // DisableKey and EnableKey take a key id or key ARN, not an alias.
    let err = client.disable_key().key_id("alias/continuations").send().await.expect_err("an alias");
    assert_eq!(err.code(), Some("NotFoundException"));
    assert_eq!(kms.key_enabled(&arn), Some(true));
}

#[tokio::test]
async fn a_disabled_key_refuses_until_enabled_again() {
    let kms = Kms::start().await.unwrap();
    let client = client(&kms, "test");
    let key = hmac_key(&client).await;
    let signed = mac(&client, &key, b"payload").await.expect("GenerateMac");

    client.disable_key().key_id(&key).send().await.expect("DisableKey");
    let described = client.describe_key().key_id(&key).send().await.expect("DescribeKey of a disabled key");
    assert_eq!(described.key_metadata().and_then(|m| m.key_state()), Some(&KeyState::Disabled));
    let (code, message) = mac(&client, &key, b"payload").await.expect_err("disabled");
    assert_eq!(code, "DisabledException");
    assert!(message.contains(&key), "{message}");
    assert_eq!(verify(&client, &key, b"payload", &signed).await, Err("DisabledException".into()));

    client.enable_key().key_id(&key).send().await.expect("EnableKey");
    assert_eq!(verify(&client, &key, b"payload", &signed).await, Ok(true), "the same key material again");
    // The test knob does what DisableKey does.
    assert!(kms.set_key_enabled(&key, false));
    assert_eq!(mac(&client, &key, b"payload").await.map_err(|e| e.0), Err("DisabledException".into()));
}

#[tokio::test]
async fn keys_and_algorithms_that_cannot_make_this_mac_are_invalid_key_usage() {
    let kms = Kms::start().await.unwrap();
    let client = client(&kms, "test");
    let encryption = client.create_key().send().await.expect("a SYMMETRIC_DEFAULT key");
    let encryption = encryption.key_metadata().and_then(|m| m.arn()).unwrap().to_string();
    let (code, message) = mac(&client, &encryption, b"m").await.expect_err("not a MAC key");
    assert_eq!(code, "InvalidKeyUsageException");
    assert!(message.contains("ENCRYPT_DECRYPT"), "{message}");

    let key = hmac_key(&client).await;
    let err = client
        .generate_mac()
        .key_id(&key)
        .message(Blob::new("m"))
        .mac_algorithm(MacAlgorithmSpec::HmacSha384)
        .send()
        .await
        .expect_err("HMAC_SHA_384 with an HMAC_256 key");
    assert!(err.as_service_error().is_some_and(|e| e.is_invalid_key_usage_exception()), "{err:?}");

    // CreateKey: an HMAC spec needs GENERATE_VERIFY_MAC; other key types are not made here.
    let err = client.create_key().key_spec(KeySpec::Hmac256).send().await.expect_err("no KeyUsage");
    assert_eq!(err.code(), Some("ValidationException"));
    let err = client.create_key().key_spec(KeySpec::Rsa2048).key_usage(KeyUsageType::SignVerify).send().await.expect_err("RSA");
    assert_eq!(err.code(), Some("UnsupportedOperationException"));
    let big = client.create_key().key_spec(KeySpec::Hmac512).key_usage(KeyUsageType::GenerateVerifyMac).send().await.expect("HMAC_512");
    let big = big.key_metadata().and_then(|m| m.arn()).unwrap();
    let out = client.generate_mac().key_id(big).message(Blob::new("m")).mac_algorithm(MacAlgorithmSpec::HmacSha512).send().await.expect("HMAC_SHA_512");
    assert_eq!(out.mac().map(|m| m.as_ref().len()), Some(64));
}

#[tokio::test]
async fn bad_input_is_a_validation_exception_naming_the_member() {
    let kms = Kms::start().await.unwrap();
    let client = client(&kms, "test");
    let key = hmac_key(&client).await;
    let cases = [
        (vec![b'x'; 4097], MacAlgorithmSpec::HmacSha256, "'message'", "less than or equal to 4096"),
        (Vec::new(), MacAlgorithmSpec::HmacSha256, "'message'", "greater than or equal to 1"),
        (b"m".to_vec(), MacAlgorithmSpec::from("HMAC_MD5"), "'macAlgorithm'", "enum value set"),
    ];
    for (message, algorithm, member, constraint) in cases {
        let err = client.generate_mac().key_id(&key).message(Blob::new(message)).mac_algorithm(algorithm).send().await.expect_err("invalid");
        assert_eq!(err.code(), Some("ValidationException"), "{err:?}");
        let text = err.message().unwrap_or_default();
        assert!(text.contains(member) && text.contains(constraint), "{text}");
    }
    assert_eq!(mac(&client, &key, &[b'x'; 4096]).await.map(|m| m.len()), Ok(32), "4096 bytes is the limit, not over it");
    let err = client.verify_mac().key_id(&key).message(Blob::new("m")).mac(Blob::new(vec![0; 6145])).mac_algorithm(MacAlgorithmSpec::HmacSha256).send().await;
    assert_eq!(err.expect_err("too long a MAC").code(), Some("ValidationException"));

    let err = client.generate_mac().key_id(&key).message(Blob::new("m")).mac_algorithm(MacAlgorithmSpec::HmacSha256).dry_run(true).send().await;
    assert_eq!(err.expect_err("dry run").code(), Some("DryRunOperationException"));
}

#[tokio::test]
async fn only_the_callers_the_key_policy_names_may_use_the_key() {
    let kms = Kms::start().await.unwrap();
    let domain = client(&kms, "studio-domain");
    let intruder = client(&kms, "someone-else");
    let key = hmac_key(&domain).await;
    let signed = mac(&intruder, &key, b"m").await.expect("the default policy allows everyone");

    assert!(kms.set_key_users(&key, Some(&["studio-domain", "studio-space"])));
    let (code, message) = mac(&intruder, &key, b"m").await.expect_err("not in the policy");
    assert_eq!(code, "AccessDeniedException");
    assert!(message.contains("someone-else") && message.contains("kms:GenerateMac") && message.contains(&key), "{message}");
    assert_eq!(verify(&intruder, &key, b"m", &signed).await, Err("AccessDeniedException".into()));
    let err = intruder.disable_key().key_id(&key).send().await.expect_err("nor may it disable it");
    assert_eq!(err.code(), Some("AccessDeniedException"));
    assert_eq!(verify(&domain, &key, b"m", &signed).await, Ok(true));

    let signers: Vec<(String, String)> = kms.signed_calls().into_iter().filter(|(_, op)| op != "CreateKey").collect();
    assert!(signers.contains(&("someone-else".to_string(), "GenerateMac".to_string())), "{signers:?}");
    assert!(signers.contains(&("studio-domain".to_string(), "VerifyMac".to_string())), "{signers:?}");
}

#[tokio::test]
async fn the_local_cloud_gives_functions_its_kms_and_an_hmac_key_for_continuations() {
    let cloud = LocalCloud::start().await.expect("local cloud");
    let env: std::collections::HashMap<String, String> = cloud.function_env().into_iter().collect();
    assert_eq!(env.get("AWS_ENDPOINT_URL_KMS"), Some(&cloud.kms.endpoint()));
    let key = env.get("CONTINUATION_KMS_KEY_ID").expect("CONTINUATION_KMS_KEY_ID");
    assert_eq!(key, &cloud.continuation_key.arn);
    assert!(key.starts_with("arn:aws:kms:us-east-1:123456789012:key/"), "{key}");

    let client = client(&cloud.kms, "studio-domain");
    let described = client.describe_key().key_id(key).send().await.expect("DescribeKey");
    assert_eq!(described.key_metadata().and_then(|m| m.key_spec()), Some(&KeySpec::Hmac256));
    let signed = mac(&client, key, b"continuation").await.expect("GenerateMac");
    assert_eq!(verify(&client, key, b"continuation", &signed).await, Ok(true));
}
