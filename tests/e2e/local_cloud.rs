//! Tests of the local cloud itself: the S3 server, the Lambda emulator and the CloudFormation
//! driver, each against the real thing it stands in for (the AWS SDKs, a real process).

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use local_cloud::s3::S3Server;

async fn s3_with_bucket(bucket: &str) -> (S3Server, aws_sdk_s3::Client) {
    let s3 = S3Server::start().await.unwrap();
    s3.create_bucket(bucket).await.unwrap();
    let client = s3.client().await;
    (s3, client)
}

async fn body_of(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    let object = client.get_object().bucket(bucket).key(key).send().await.unwrap();
    object.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test]
async fn s3_works_with_the_sdk_defaults() {
    let (s3, client) = s3_with_bucket("assets").await;

    // In-memory body: CRC32 checksum header.
    client.put_object().bucket("assets").key("a/one.txt").body(ByteStream::from_static(b"0123456789")).send().await.unwrap();
    assert_eq!(body_of(&client, "assets", "a/one.txt").await, b"0123456789");

    // File body: streamed as aws-chunked with a CRC32 trailer.
    let file = tempfile::NamedTempFile::new().unwrap();
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(file.path(), &content).unwrap();
    client.put_object().bucket("assets").key("a/two.bin").body(ByteStream::from_path(file.path()).await.unwrap()).send().await.unwrap();
    assert_eq!(body_of(&client, "assets", "a/two.bin").await, content);
    let streamed = s3.recorded_puts("/assets/a/two.bin");
    assert_eq!(streamed.len(), 1);
    assert!(streamed[0].succeeded());

    // Multipart: a 5 MiB part (the S3 minimum for all but the last) and a small last part.
    let part1 = vec![b'x'; 5 * 1024 * 1024];
    let part2 = b"tail".to_vec();
    let upload = client.create_multipart_upload().bucket("assets").key("b/big.bin").send().await.unwrap();
    let upload_id = upload.upload_id().unwrap();
    let mut parts = Vec::new();
    for (number, data) in [(1, &part1), (2, &part2)] {
        let part = client
            .upload_part()
            .bucket("assets")
            .key("b/big.bin")
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder().part_number(number).e_tag(part.e_tag().unwrap()).set_checksum_crc32(part.checksum_crc32().map(str::to_string)).build(),
        );
    }
    client
        .complete_multipart_upload()
        .bucket("assets")
        .key("b/big.bin")
        .upload_id(upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap();
    let big = body_of(&client, "assets", "b/big.bin").await;
    assert_eq!(big.len(), part1.len() + part2.len());
    assert!(big.ends_with(b"xtail"));

    // Range read.
    let ranged = client.get_object().bucket("assets").key("a/one.txt").range("bytes=2-5").send().await.unwrap();
    assert_eq!(ranged.body.collect().await.unwrap().into_bytes().as_ref(), b"2345");

    // Listing with a prefix.
    let listed = client.list_objects_v2().bucket("assets").prefix("a/").send().await.unwrap();
    let mut keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    keys.sort();
    assert_eq!(keys, ["a/one.txt", "a/two.bin"]);

    // A long key (CloudFormation response keys are ~200 bytes): the vendored s3s-fs fix.
    // (Each "/"-separated segment is a file name, so it stays within 255 bytes.)
    let long_key = format!("long/{}/end", vec!["k".repeat(100); 4].join("/"));
    client.put_object().bucket("assets").key(&long_key).body(ByteStream::from_static(b"long")).send().await.unwrap();
    assert_eq!(body_of(&client, "assets", &long_key).await, b"long");
    let listed = client.list_objects_v2().bucket("assets").prefix("long/").send().await.unwrap();
    assert_eq!(listed.contents().iter().filter_map(|o| o.key()).collect::<Vec<_>>(), [long_key.as_str()]);

    // Batch delete.
    let delete = Delete::builder()
        .objects(ObjectIdentifier::builder().key("a/one.txt").build().unwrap())
        .objects(ObjectIdentifier::builder().key("a/two.bin").build().unwrap())
        .build()
        .unwrap();
    let deleted = client.delete_objects().bucket("assets").delete(delete).send().await.unwrap();
    assert_eq!(deleted.deleted().len(), 2, "{deleted:?}");
    let listed = client.list_objects_v2().bucket("assets").prefix("a/").send().await.unwrap();
    assert!(listed.contents().is_empty(), "{listed:?}");
}

async fn presigned_put(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> String {
    let presigned = client.put_object().bucket(bucket).key(key).presigned(PresigningConfig::expires_in(Duration::from_secs(7200)).unwrap()).await.unwrap();
    presigned.uri().to_string()
}

#[tokio::test]
async fn presigned_put_is_verified() {
    let (s3, client) = s3_with_bucket("cfn-responses").await;
    let url = presigned_put(&client, "cfn-responses", "stack%2Fx/Logical/req-1").await;
    assert!(url.contains("X-Amz-Signature="), "{url}");

    let body = r#"{"Status":"SUCCESS","Reason":"é"}"#;
    let http = reqwest::Client::new();
    let response = http.put(&url).header("content-type", "").body(body).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    assert_eq!(body_of(&client, "cfn-responses", "stack%2Fx/Logical/req-1").await, body.as_bytes());

    let puts = s3.recorded_puts("/cfn-responses/stack%2Fx/");
    assert_eq!(puts.len(), 1);
    let put = &puts[0];
    assert_eq!(put.path, "/cfn-responses/stack%2Fx/Logical/req-1");
    assert!(put.presigned && !put.url.contains('?'), "{put:?}");
    assert_eq!(put.content_type.as_deref(), Some(""));
    assert_eq!(put.content_length, Some(body.len() as u64));
    assert_eq!(put.body_len, body.len());
    assert_eq!(put.body.as_deref(), Some(body.as_bytes()));

    // A tampered signature is refused and nothing is stored.
    let signature_at = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut tampered = url.clone();
    let flipped = if &url[signature_at..=signature_at] == "0" { "1" } else { "0" };
    tampered.replace_range(signature_at..=signature_at, flipped);
    let response = http.put(&tampered).header("content-type", "").body("{}").send().await.unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(body_of(&client, "cfn-responses", "stack%2Fx/Logical/req-1").await, body.as_bytes());

    // So is an unsigned request.
    let response = http.put(put.url.clone()).body("{}").send().await.unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn fault_injection_fails_the_next_puts_under_a_prefix() {
    let (s3, client) = s3_with_bucket("faults").await;
    s3.fail_puts("/faults/flaky/", 2, 500);
    let http = reqwest::Client::new();

    let other = presigned_put(&client, "faults", "steady/x").await;
    assert_eq!(http.put(&other).body("x").send().await.unwrap().status(), 200);

    let url = presigned_put(&client, "faults", "flaky/x").await;
    let statuses: Vec<u16> =
        futures::future::join_all((0..3).map(|_| http.put(&url).body("x").send())).await.into_iter().map(|r| r.unwrap().status().as_u16()).collect();
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, [200, 500, 500], "{statuses:?}");

    let puts = s3.recorded_puts("faults/flaky/");
    assert_eq!(puts.iter().filter(|p| p.injected).count(), 2);
    assert_eq!(puts.iter().filter(|p| p.succeeded()).count(), 1);
    assert_eq!(body_of(&client, "faults", "flaky/x").await, b"x");
}

// ---------------------------------------------------------------------------------------------
// The Lambda emulator, with examples/echo_function.rs as the function.

mod lambda {
    use std::time::Duration;

    use local_cloud::binaries::function_binary;
    use local_cloud::lambda::{FunctionConfig, InvocationSource, LambdaService, Outcome};
    use serde_json::{Value, json};

    async fn deploy_echo(name: &str, timeout: Duration) -> LambdaService {
        let lambda = LambdaService::start().await.unwrap();
        let config = FunctionConfig::new(name, function_binary("echo_function")).timeout(timeout).env("EXTRA_SETTING", "from-config");
        lambda.deploy(config).await.unwrap();
        lambda
    }

    #[tokio::test]
    async fn runs_a_real_function_with_the_lambda_environment() {
        let lambda = deploy_echo("echo", Duration::from_secs(30)).await;

        let answer = lambda.invoke("echo", json!({"hello": "world"})).await.unwrap();
        assert_eq!(answer, json!({"hello": "world"}));

        let env = lambda.invoke("echo", json!({"env": true})).await.unwrap();
        assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "echo");
        assert_eq!(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/echo");
        assert_eq!(env["AWS_REGION"], "us-east-1");
        assert_eq!(env["EXTRA_SETTING"], "from-config");
        assert!(env["AWS_LAMBDA_RUNTIME_API"].as_str().unwrap().starts_with("127.0.0.1:"));
        assert!(env.get("HOME").is_none() && env.get("CARGO").is_none(), "environment not cleared: {env}");

        let error = lambda.invoke("echo", json!({"fail": "boom"})).await.unwrap_err();
        assert_eq!(error.error_message, "boom", "{error:?}");
        assert!(!error.error_type.is_empty(), "{error:?}");

        let records = lambda.invocations("echo");
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].outcome, Outcome::Response(json!({"hello": "world"})));
        assert_eq!(records[0].source, InvocationSource::Api);
        assert!(matches!(records[2].outcome, Outcome::Error(_)));
        let logs = lambda.logs("echo");
        assert!(logs.contains("echoing {\"hello\":\"world\"}"), "{logs}");
        assert!(logs.contains(&format!("START RequestId: {}", records[0].request_id)), "{logs}");
        assert!(lambda.init_errors("echo").is_empty());
    }

    #[tokio::test]
    async fn a_missed_deadline_or_a_crash_gets_a_fresh_process() {
        let lambda = deploy_echo("slow", Duration::from_secs(1)).await;

        let error = lambda.invoke("slow", json!({"sleep_ms": 10_000})).await.unwrap_err();
        assert_eq!(error.error_type, "Sandbox.Timedout");
        let after_timeout = lambda.invoke("slow", json!({"n": 1})).await.unwrap();
        assert_eq!(after_timeout, json!({"n": 1}));

        let error = lambda.invoke("slow", json!({"exit": 3})).await.unwrap_err();
        assert_eq!(error.error_type, "Runtime.ExitError", "{error:?}");
        let after_crash = lambda.invoke("slow", json!({"n": 2})).await.unwrap();
        assert_eq!(after_crash, json!({"n": 2}));

        let outcomes: Vec<Outcome> = lambda.invocations("slow").into_iter().map(|r| r.outcome).collect();
        assert_eq!(outcomes[0], Outcome::TimedOut);
        assert!(matches!(outcomes[2], Outcome::Error(_)));
        let logs = lambda.logs("slow");
        assert!(logs.contains("Task timed out after 1.00 seconds"), "{logs}");
        assert!(logs.contains("exiting with 3 as asked"), "{logs}");
    }

    #[tokio::test]
    async fn runs_a_command_with_arguments_and_records_each_process() {
        // An interpreter with arguments instead of a bootstrap (as `python -m awslambdaric h.f`):
        // sh runs the echo function.
        let lambda = LambdaService::start().await.unwrap();
        let echo = function_binary("echo_function").display().to_string();
        let config = FunctionConfig::new("via-sh", "/bin/sh").args(["-c", "exec \"$0\"", echo.as_str()]);
        lambda.deploy(config).await.unwrap();
        assert_eq!(lambda.invoke("via-sh", json!({"n": 1})).await.unwrap(), json!({"n": 1}));

        let first = lambda.processes("via-sh");
        assert_eq!(first.len(), 1, "{first:?}");
        let init = first[0].init_duration().expect("the first `next` is recorded");
        assert!(init < Duration::from_secs(10), "{init:?}");
        // Waiting for its next invocation, the process is alive: its peak memory can be read.
        let pid = first[0].pid.expect("pid");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        assert!(status.contains("VmHWM:"), "{status}");

        // A crash: the next invocation gets a new process, recorded with its own times.
        lambda.invoke("via-sh", json!({"exit": 3})).await.unwrap_err();
        assert_eq!(lambda.invoke("via-sh", json!({"n": 2})).await.unwrap(), json!({"n": 2}));
        let processes = lambda.processes("via-sh");
        assert_eq!(processes.len(), 2, "{processes:?}");
        assert_ne!(processes[0].pid, processes[1].pid);
        assert!(processes[1].spawned > first[0].first_next.unwrap());
        assert!(processes[1].first_next.is_some_and(|next| next > processes[1].spawned));
    }

    #[tokio::test]
    async fn invocations_are_queued_and_delivered_one_at_a_time() {
        let lambda = deploy_echo("queued", Duration::from_secs(30)).await;
        for n in 0..3 {
            lambda.invoke_async("queued", json!({"sleep_ms": 200, "n": n})).await.unwrap();
        }
        assert!(!lambda.is_idle("queued"));
        assert!(lambda.wait_idle("queued", Duration::from_secs(30)).await);
        let records = lambda.invocations("queued");
        let order: Vec<Value> = records.iter().map(|r| r.payload["n"].clone()).collect();
        assert_eq!(order, [json!(0), json!(1), json!(2)]);
        assert!(records.iter().all(|r| r.asynchronous && r.duration >= Duration::from_millis(200)));
    }

    #[tokio::test]
    async fn a_function_can_invoke_itself_through_the_invoke_api() {
        let lambda = deploy_echo("again", Duration::from_secs(30)).await;
        lambda.invoke_async("again", json!({"self_invoke": {"step": 2}})).await.unwrap();
        assert!(lambda.wait_idle("again", Duration::from_secs(30)).await, "{}", lambda.logs("again"));

        let records = lambda.invocations("again");
        assert_eq!(records.len(), 2, "{records:?}\n{}", lambda.logs("again"));
        assert_eq!(records[0].outcome, Outcome::Response(json!({"self_invoked": 202})));
        assert_eq!(records[1].source, InvocationSource::SelfInvoke);
        assert_eq!(records[1].payload, json!({"step": 2}));
        assert!(records[1].asynchronous);
    }

    #[tokio::test]
    async fn the_invoke_api_speaks_to_aws_sdk_lambda() {
        use aws_sdk_lambda::error::ProvideErrorMetadata;
        use aws_sdk_lambda::primitives::Blob;
        use aws_sdk_lambda::types::InvocationType;

        let lambda = deploy_echo("sdk", Duration::from_secs(30)).await;
        let client = aws_sdk_lambda::Client::new(&local_cloud::sdk_config(&lambda.endpoint()));

        let output = client.invoke().function_name("sdk").payload(Blob::new(r#"{"a":1}"#)).send().await.unwrap();
        assert_eq!(output.status_code(), 200);
        assert_eq!(output.function_error(), None);
        let payload: Value = serde_json::from_slice(output.payload().unwrap().as_ref()).unwrap();
        assert_eq!(payload, json!({"a": 1}));

        // By ARN, with a function error.
        let output =
            client.invoke().function_name("arn:aws:lambda:us-east-1:123456789012:function:sdk").payload(Blob::new(r#"{"fail":"nope"}"#)).send().await.unwrap();
        assert_eq!(output.function_error(), Some("Unhandled"));
        let error: Value = serde_json::from_slice(output.payload().unwrap().as_ref()).unwrap();
        assert_eq!(error["errorMessage"], "nope");

        let event = client.invoke().function_name("sdk").invocation_type(InvocationType::Event).payload(Blob::new(r#"{"b":2}"#)).send().await.unwrap();
        assert_eq!(event.status_code(), 202);

        let missing = client.invoke().function_name("nope").payload(Blob::new("{}")).send().await.unwrap_err();
        assert_eq!(missing.code(), Some("ResourceNotFoundException"), "{missing:?}");
        assert!(missing.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()));

        let big = format!(r#"{{"x":"{}"}}"#, "y".repeat(256 * 1024));
        let too_large = client.invoke().function_name("sdk").invocation_type(InvocationType::Event).payload(Blob::new(big)).send().await.unwrap_err();
        assert_eq!(too_large.code(), Some("RequestEntityTooLargeException"), "{too_large:?}");

        assert!(lambda.wait_idle("sdk", Duration::from_secs(30)).await);
        assert_eq!(lambda.invocations("sdk").len(), 3);
    }
}

// ---------------------------------------------------------------------------------------------
// The CloudFormation driver, with examples/echo_function.rs as a configurable responder.

mod cloudformation {
    use std::time::{Duration, Instant};

    use local_cloud::binaries::function_binary;
    use local_cloud::cloudformation::{CloudFormation, ProtocolError, RequestType, Status, Violation};
    use local_cloud::lambda::{FunctionConfig, LambdaService};
    use local_cloud::s3::S3Server;
    use serde_json::json;

    struct Cloud {
        lambda: LambdaService,
        s3: S3Server,
        cfn: CloudFormation,
    }

    async fn cloud() -> Cloud {
        // RUST_LOG=s3s=debug shows what the S3 server makes of each request.
        let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).with_test_writer().try_init();
        let lambda = LambdaService::start().await.unwrap();
        let s3 = S3Server::start().await.unwrap();
        let config = FunctionConfig::new("responder", function_binary("echo_function")).timeout(Duration::from_secs(30));
        lambda.deploy(config).await.unwrap();
        let mut cfn = CloudFormation::new(&lambda, &s3, "demo-stack");
        cfn.set_timeout(Duration::from_secs(60));
        Cloud { lambda, s3, cfn }
    }

    fn violation(result: Result<local_cloud::cloudformation::Response, ProtocolError>) -> Violation {
        match result {
            Err(ProtocolError::Violation { violation, .. }) => violation,
            other => panic!("expected a protocol violation, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn plays_events_as_cloudformation_does_and_accepts_a_good_response() {
        let Cloud { lambda, cfn, .. } = cloud().await;
        assert!(cfn.stack_id().starts_with("arn:aws:cloudformation:us-east-1:123456789012:stack/demo-stack/"));

        let properties = json!({"Data": {"Answer": "42"}, "Count": 3, "Nested": [{"On": true}]});
        let created = cfn.create("responder", "Thing", properties.clone()).await.unwrap();
        assert_eq!(created.status, Status::Success);
        assert_eq!(created.physical_resource_id, "echo-Thing");
        assert_eq!(created.data.get("Answer").map(String::as_str), Some("42"));
        assert!(!created.no_echo && created.reason.is_none());
        assert_eq!(created.put.content_type.as_deref(), Some(""), "present and empty");
        assert_eq!(cfn.responses_for(&created.request_id), 1);

        // The event, as the function received it.
        let event = lambda.invocations("responder")[0].payload.clone();
        assert_eq!(event["RequestType"], "Create");
        assert_eq!(event["RequestId"], created.request_id.as_str());
        assert_eq!(event["ResourceType"], "Custom::Thing");
        assert_eq!(event["ServiceToken"], "arn:aws:lambda:us-east-1:123456789012:function:responder");
        assert_eq!(event["ResourceProperties"]["ServiceToken"], event["ServiceToken"]);
        assert_eq!(event["ResourceProperties"]["Count"], "3");
        assert_eq!(event["ResourceProperties"]["Nested"][0]["On"], "true");
        let url = event["ResponseURL"].as_str().unwrap();
        assert!(url.starts_with("http://127.0.0.1:") && url.contains("X-Amz-Signature="), "{url}");
        assert!(url.contains("/cfn-responses/arn%253Aaws%253Acloudformation%253A"), "{url}");
        assert!(event.get("PhysicalResourceId").is_none() && event.get("OldResourceProperties").is_none());

        let updated =
            cfn.update("responder", "Thing", "echo-Thing", json!({"Count": 4, "Status": "FAILED", "Reason": "no"}), properties.clone()).await.unwrap();
        assert_eq!((updated.status, updated.reason.as_deref()), (Status::Failed, Some("no")));
        let event = lambda.invocations("responder")[1].payload.clone();
        assert_eq!(event["PhysicalResourceId"], "echo-Thing");
        assert_eq!(event["OldResourceProperties"]["Count"], "3");

        let deleted = cfn.delete("responder", "Thing", "echo-Thing", properties).await.unwrap();
        assert_eq!(deleted.physical_resource_id, "echo-Thing");
        let event = lambda.invocations("responder")[2].payload.clone();
        assert_eq!(event["RequestType"], "Delete");

        // An absent Content-Type is accepted too, and reported as such.
        let absent = cfn.create("responder", "Other", json!({"ContentType": "omit", "NoEcho": "true"})).await.unwrap();
        assert_eq!(absent.put.content_type, None);
        assert!(absent.no_echo);
    }

    #[tokio::test]
    async fn reports_protocol_violations() {
        let Cloud { cfn, .. } = cloud().await;

        let too_long = cfn.create("responder", "Long", json!({"PadReason": 5000})).await;
        assert!(matches!(violation(too_long), Violation::TooLong(n) if n > 5000));

        let typed = cfn.create("responder", "Typed", json!({"ContentType": "application/json"})).await;
        assert_eq!(violation(typed), Violation::ContentType("application/json".into()));

        // Content-Length counted in characters: S3 keeps a truncated body.
        let chars = cfn.create("responder", "Chars", json!({"ContentLength": "chars", "Reason": "déjà vu"})).await;
        assert!(matches!(violation(chars), Violation::NotJson(_)));

        let chunked = cfn.create("responder", "Chunked", json!({"ContentLength": "chunked"})).await;
        assert!(matches!(violation(chunked), Violation::ContentLength { header: None, .. }));

        let silent_failure = cfn.create("responder", "Failing", json!({"Status": "FAILED"})).await;
        assert!(matches!(violation(silent_failure), Violation::Reason(_)));

        // Data values must be strings: the driver stringifies properties, so a raw event does it.
        let stringified = cfn.create("responder", "Data", json!({"Data": {"Port": 8080}})).await.unwrap();
        assert_eq!(stringified.data.get("Port").map(String::as_str), Some("8080"));
        let mut event = cfn.event(RequestType::Create, "responder", "Data", None, json!({}), None).await.unwrap();
        event["ResourceProperties"]["Data"] = json!({"Port": 8080});
        assert!(matches!(violation(cfn.send("responder", event).await), Violation::Data(_)));
    }

    #[tokio::test]
    async fn detects_a_second_response() {
        let Cloud { cfn, .. } = cloud().await;
        match cfn.create("responder", "Twice", json!({"Responses": 2})).await {
            Err(ProtocolError::Duplicate { count: 2, request_id }) => assert_eq!(cfn.responses_for(&request_id), 2),
            other => panic!("expected a duplicate, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_missing_response_fails_fast_with_the_reason() {
        let Cloud { s3, cfn, .. } = cloud().await;

        // The function crashes before responding.
        let mut event = cfn.event(RequestType::Create, "responder", "Crash", None, json!({}), None).await.unwrap();
        event["exit"] = json!(3);
        let started = Instant::now();
        match cfn.send("responder", event).await {
            Err(ProtocolError::NoResponse { detail, .. }) => {
                assert!(detail.contains("Runtime.ExitError"), "{detail}");
                assert!(detail.contains("exiting with 3"), "{detail}");
            }
            other => panic!("expected no response, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(20), "should not wait for the full timeout");

        // The PUT fails and the responder does not retry.
        s3.fail_puts("/cfn-responses/", 1, 500);
        match cfn.create("responder", "Flaky", json!({})).await {
            Err(ProtocolError::NoResponse { detail, request_id, .. }) => {
                assert!(detail.contains("refused PUT: status 500"), "{detail}");
                assert_eq!(cfn.responses_for(&request_id), 0);
                assert_eq!(cfn.puts_for(&request_id).len(), 1);
            }
            other => panic!("expected no response, got {other:?}"),
        }
    }
}
