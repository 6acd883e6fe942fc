//! EFS's restJson: `GET /2015-02-01/file-systems` and `/2015-02-01/mount-targets`; errors
//! carry `x-amzn-ErrorType` and `{"ErrorCode", "Message"}`.

use emulator_kit::paging::{indexed, page};
use emulator_kit::{AwsError, Protocol, Request, Route};
use hyper::Method;
use serde_json::{Value, json};

use super::{FileSystem, MountTarget, State};
use crate::{ACCOUNT_ID, REGION};

/// The path prefix of every EFS call.
pub(super) const PATH: &str = "/2015-02-01/";

pub(super) fn route(method: &Method, resource: &str) -> Route {
    let operation = match (method, resource) {
        (&Method::GET, "file-systems") => "DescribeFileSystems".to_string(),
        (&Method::GET, "mount-targets") => "DescribeMountTargets".to_string(),
        _ => format!("{method} {PATH}{resource}"),
    };
    Route::new(operation, "elasticfilesystem", Protocol::RestJson)
}

fn error(status: u16, code: &'static str, message: impl Into<String>) -> AwsError {
    AwsError::new(code, message).with_status(status)
}

pub(super) fn call(state: &mut State, route: &Route, request: &Request) -> Result<Value, AwsError> {
    let operation = route.operation.as_str();
    if !matches!(operation, "DescribeFileSystems" | "DescribeMountTargets") {
        return Err(error(404, "UnknownOperationException", format!("No EFS operation {operation} here")));
    }
    let params = request.query_params();
    let get = |key: &str| params.get(key).map(String::as_str);
    let max = match get("MaxItems").map(str::parse::<usize>) {
        None => state.page_size,
        Some(Ok(n)) if n >= 1 => n.min(state.page_size),
        Some(_) => return Err(error(400, "BadRequest", "MaxItems must be a positive integer")),
    };
    // Both calls refuse a FileSystemId that names no file system.
    if let Some(id) = get("FileSystemId")
        && !state.file_systems.iter().any(|f| f.id == id)
    {
        return Err(error(404, "FileSystemNotFound", format!("File system '{id}' does not exist.")));
    }
    let (list_key, items) = if operation == "DescribeFileSystems" {
        let items: Vec<Value> = state
            .file_systems
            .iter()
            .filter(|f| get("FileSystemId").is_none_or(|id| f.id == id))
            .filter(|f| get("CreationToken").is_none_or(|t| f.creation_token == t))
            .map(|f| file_system_json(state, f))
            .collect();
        ("FileSystems", items)
    } else {
        let selectors = ["FileSystemId", "MountTargetId", "AccessPointId"].iter().filter(|k| get(k).is_some()).count();
        if selectors != 1 {
            return Err(error(400, "BadRequest", "Specify exactly one of FileSystemId, MountTargetId or AccessPointId"));
        }
        if let Some(id) = get("MountTargetId")
            && !state.mount_targets.iter().any(|m| m.id == id)
        {
            return Err(error(404, "MountTargetNotFound", format!("Mount target '{id}' does not exist.")));
        }
        if let Some(id) = get("AccessPointId") {
            return Err(error(404, "AccessPointNotFound", format!("Access point '{id}' does not exist.")));
        }
        let items: Vec<Value> = state
            .mount_targets
            .iter()
            .filter(|m| get("FileSystemId").is_none_or(|id| m.file_system_id == id))
            .filter(|m| get("MountTargetId").is_none_or(|id| m.id == id))
            .map(|m| mount_target_json(state, m))
            .collect();
        ("MountTargets", items)
    };
    let (items, next) = page(indexed(items), get("Marker"), max).map_err(|m| error(400, "BadRequest", m))?;
    let mut out = json!({ list_key: items });
    if let Some(marker) = get("Marker") {
        out["Marker"] = json!(marker);
    }
    if let Some(next) = next {
        out["NextMarker"] = json!(next);
    }
    Ok(out)
}

fn file_system_json(state: &State, f: &FileSystem) -> Value {
    let mounts = state.mount_targets.iter().filter(|m| m.file_system_id == f.id).count();
    let tags: Vec<Value> = f.tags.iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect();
    let mut out = json!({
        "OwnerId": ACCOUNT_ID,
        "CreationToken": f.creation_token,
        "FileSystemId": f.id,
        "FileSystemArn": format!("arn:aws:elasticfilesystem:{REGION}:{ACCOUNT_ID}:file-system/{}", f.id),
        "CreationTime": f.created,
        "LifeCycleState": state.file_system_life(f),
        "NumberOfMountTargets": mounts,
        "SizeInBytes": { "Value": 6144 },
        "PerformanceMode": "generalPurpose",
        "Encrypted": false,
        "ThroughputMode": "bursting",
        "Tags": tags,
    });
    if let Some(name) = &f.name {
        out["Name"] = json!(name);
    }
    out
}

fn mount_target_json(state: &State, m: &MountTarget) -> Value {
    let deleting = state.file_systems.iter().any(|f| f.id == m.file_system_id && f.deleting_since.is_some());
    let zone = char::from(b'a' + (m.zone % 6) as u8);
    json!({
        "OwnerId": ACCOUNT_ID,
        "MountTargetId": m.id,
        "FileSystemId": m.file_system_id,
        "SubnetId": m.subnet_id,
        "LifeCycleState": if deleting { "deleting" } else { "available" },
        "IpAddress": m.ip,
        "NetworkInterfaceId": m.interface_id,
        "AvailabilityZoneId": format!("use1-az{}", m.zone % 6 + 1),
        "AvailabilityZoneName": format!("{REGION}{zone}"),
        "VpcId": m.vpc_id,
    })
}
