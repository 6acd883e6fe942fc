//! What validated properties become: the assets inspected (central directories only), the
//! content hash, the config's name, and the content to send, before anything is written.

use crate::properties::{AssetSpec, Location, Spec};
use crate::script::{self, FULL_SCRIPT_FILE, MAX_CONTENT_CHARS};
use crate::staging::s3::S3Object;
use crate::staging::zip_index::{self, Limits};
use crate::staging::{self, InspectedZip, StagingError};
use custom_resource::{Error, PropertyError};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Hex characters of the content hash in the config's name.
pub const NAME_HASH_LEN: usize = 10;

#[derive(Debug)]
pub struct PlannedAsset {
    pub spec: AssetSpec,
    pub source: Arc<S3Object>,
    pub zip: InspectedZip,
}

impl PlannedAsset {
    /// Where the asset's files go: `<staged prefix><asset name>/`.
    pub fn dest_prefix(&self, staged_prefix: &str) -> String {
        format!("{staged_prefix}{}/", self.spec.name)
    }
}

#[derive(Debug)]
pub struct Plan {
    /// `<base>-<10 hex of content_sha256>`.
    pub name: String,
    pub content_sha256: String,
    pub assets: Vec<PlannedAsset>,
    /// The key prefix staged files go under, when AssetBucket is set.
    pub staged_prefix: Option<String>,
    /// StudioLifecycleConfigContent.
    pub content: String,
    /// The full script, staged next to the assets when `content` is its bootstrap.
    pub full_script: Option<String>,
}

impl Plan {
    /// AssetsS3Uri: where this content's files are staged ("" without AssetBucket).
    pub fn assets_uri(&self, location: Option<&Location>) -> String {
        match (location, &self.staged_prefix) {
            (Some(location), Some(prefix)) => location.uri(prefix),
            _ => String::new(),
        }
    }
}

pub async fn plan(s3: &aws_sdk_s3::Client, spec: &Spec, limits: &Limits, owner: Option<&str>) -> Result<Plan, Error> {
    if spec.assets.len() > limits.max_assets {
        return Err(PropertyError::new("Assets", format!("{} assets; at most {} are accepted", spec.assets.len(), limits.max_assets)).into());
    }
    let mut assets = Vec::with_capacity(spec.assets.len());
    // The limits hold across all assets, not per archive.
    let (mut files, mut bytes, mut name_bytes) = (0usize, 0u64, 0usize);
    for asset in &spec.assets {
        let source = S3Object::open(s3, &asset.source_bucket, &asset.source_key, owner).await.map_err(|e| asset_error(asset, e.into()))?;
        let left = Limits {
            max_files: limits.max_files.saturating_sub(files),
            max_total_size: limits.max_total_size.saturating_sub(bytes),
            max_name_bytes: limits.max_name_bytes.saturating_sub(name_bytes),
            ..limits.clone()
        };
        let zip = staging::inspect(&source, source.len, &asset.exclude, &left).await.map_err(|e| match e {
            // Said with the whole cap, not with what the earlier assets left of it.
            StagingError::Archive(refusal) if refusal == zip_index::name_bytes_refusal(left.max_name_bytes) => {
                asset_error(asset, zip_index::name_bytes_refusal(limits.max_name_bytes).into())
            }
            e => asset_error(asset, e),
        })?;
        files += zip.files.len();
        bytes = bytes.saturating_add(zip.total_size);
        name_bytes = name_bytes.saturating_add(zip.name_bytes);
        tracing::info!(asset = %asset.name, source = %source.uri(), files = zip.files.len(), excluded = zip.excluded, bytes = zip.total_size, "inspected");
        assets.push(PlannedAsset { spec: asset.clone(), source: Arc::new(source), zip });
    }
    let digests: Vec<(&str, &str)> = assets.iter().map(|a| (a.spec.name.as_str(), a.zip.digest.as_str())).collect();
    let content_sha256 = content_sha256(spec, &digests);
    let name = format!("{}-{}", spec.base, &content_sha256[..NAME_HASH_LEN]);
    let staged_prefix = spec.location.as_ref().map(|l| l.staged_prefix(&spec.base, &content_sha256));

    let copies: Vec<(String, String)> = match (&spec.location, &staged_prefix) {
        (Some(location), Some(prefix)) => assets.iter().map(|a| (a.spec.name.clone(), location.uri(&a.dest_prefix(prefix)))).collect(),
        _ => Vec::new(),
    };
    let full = script::render(&name, &copies, &spec.body);
    let encoded = script::encode(&full);
    let (content, full_script) = if encoded.len() <= MAX_CONTENT_CHARS {
        (encoded, None)
    } else {
        let (Some(location), Some(prefix)) = (&spec.location, &staged_prefix) else {
            return Err(PropertyError::new(
                spec.body_property,
                format!(
                    "the lifecycle script is {} base64 characters, over SageMaker's {MAX_CONTENT_CHARS}; \
                     set AssetBucket so that the full script is staged to S3 and run by a short bootstrap",
                    encoded.len()
                ),
            )
            .into());
        };
        let uri = location.uri(&format!("{prefix}{FULL_SCRIPT_FILE}"));
        (script::encode(&script::bootstrap(&name, &uri, &full)), Some(full))
    };
    Ok(Plan { name, content_sha256, assets, staged_prefix, content, full_script })
}

/// ContentSha256: everything the config's content and type derive from, so that the same
/// input gives the same name and any change a new one. Assets count by their digests (the
/// staged files' paths, sizes and CRC-32s), not by the zip's bytes or timestamps.
pub fn content_sha256(spec: &Spec, asset_digests: &[(&str, &str)]) -> String {
    let mut hash = Sha256::new();
    let mut field = |name: &str, value: &str| {
        hash.update(format!("{name} {}\n", value.len()));
        hash.update(value);
        hash.update("\n");
    };
    field("format", "studio-lifecycle-config/1");
    field("app-type", spec.app_type.as_str());
    field("base", &spec.base);
    let root = spec.location.as_ref().map(|l| l.uri(&format!("{}{}/", l.prefix, spec.base))).unwrap_or_default();
    field("assets-root", &root);
    field("body", &spec.body);
    for (name, digest) in asset_digests {
        field("asset", &format!("{name} {digest}"));
    }
    hex::encode(hash.finalize())
}

/// A Reason naming the asset and its source.
pub fn asset_error(asset: &AssetSpec, e: StagingError) -> Error {
    let at = format!("{} ({}, s3://{}/{})", asset.path, asset.name, asset.source_bucket, asset.source_key);
    match e {
        StagingError::Archive(e) => Error::new(format!("{at} refused: {e}")),
        StagingError::Store(mut e) => {
            e.reason = format!("{at}: {}", e.reason);
            e
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::properties::Location;
    use aws_sdk_sagemaker::types::StudioLifecycleConfigAppType as AppType;

    fn spec() -> Spec {
        Spec {
            base: "lab".into(),
            app_type: AppType::JupyterLab,
            body: "echo hi".into(),
            body_property: "Commands",
            assets: Vec::new(),
            location: Some(Location { bucket: "bucket".into(), prefix: "lifecycle-assets/".into() }),
            tags: vec![("team".into(), "ml".into())],
            delete_options: studio::delete_options::record(&[("RetainAssets", "false")]),
        }
    }

    #[test]
    fn the_hash_covers_what_the_config_is_made_of() {
        let base = content_sha256(&spec(), &[("tools", "d1")]);
        assert_eq!(base, content_sha256(&spec(), &[("tools", "d1")]));
        let differs = |changed: Spec, digests: &[(&str, &str)]| assert_ne!(base, content_sha256(&changed, digests));
        differs(Spec { body: "echo bye".into(), ..spec() }, &[("tools", "d1")]);
        differs(Spec { app_type: AppType::CodeEditor, ..spec() }, &[("tools", "d1")]);
        differs(spec(), &[("tools", "d2")]);
        differs(spec(), &[("other", "d1")]);
        differs(Spec { location: Some(Location { bucket: "other".into(), prefix: "lifecycle-assets/".into() }), ..spec() }, &[("tools", "d1")]);
        // Tags are not content: they change in place.
        assert_eq!(base, content_sha256(&Spec { tags: Vec::new(), ..spec() }, &[("tools", "d1")]));
    }
}
