//! Which ResponseURLs the function may PUT to (issue 13, issue 23): the CloudFormation response
//! bucket of the function's own Region (AWS_REGION) over https on port 443, plus the exact
//! hosts CFN_RESPONSE_URL_ALLOWED_HOSTS names (for local testing; the template never sets it).
//! Anything else gets no connection at all.
//!
//! CloudFormation presigns its ResponseURLs on the bucket `cloudformation-custom-resource-response-
//! <region without dashes>` of the stack's Region, which is the function's Region (a ServiceToken
//! names a function of the stack's own Region). The bucket is reached virtual-hosted style on
//! S3's documented endpoints for that Region ("Amazon S3 endpoints and quotas", AWS General
//! Reference; "Making requests using the REST API" and its legacy endpoints, Amazon S3 API
//! Reference): `s3.<region>`, `s3.dualstack.<region>`, the legacy `s3-<region>` and the legacy
//! global `s3` under `amazonaws.com`; in the China Regions only `s3.<region>` and
//! `s3.dualstack.<region>` under `amazonaws.com.cn`.

use url::Url;

pub const ALLOWED_HOSTS_ENV: &str = "CFN_RESPONSE_URL_ALLOWED_HOSTS";
/// The function's Region, as Lambda sets it.
pub const REGION_ENV: &str = "AWS_REGION";

/// The hosts a ResponseURL may name.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    /// Exact extra hosts, each with an optional port (`None`: any port).
    extra: Vec<(String, Option<u16>)>,
    /// The function's Region; None: no response bucket is allowed, only `extra`.
    region: Option<String>,
}

impl Allowlist {
    /// CFN_RESPONSE_URL_ALLOWED_HOSTS, and the response bucket of AWS_REGION.
    pub fn from_env() -> Self {
        let allowlist = Self::parse(&std::env::var(ALLOWED_HOSTS_ENV).unwrap_or_default());
        match std::env::var(REGION_ENV) {
            Ok(region) => allowlist.in_region(&region),
            Err(_) => allowlist,
        }
    }

    /// `host` or `host:port` entries, comma-separated; blanks ignored. No Region: no response
    /// bucket (see `in_region`).
    pub fn parse(list: &str) -> Self {
        let extra = list
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| match entry.rsplit_once(':') {
                Some((host, port)) if port.parse::<u16>().is_ok() => (host.to_ascii_lowercase(), port.parse().ok()),
                _ => (entry.to_ascii_lowercase(), None),
            })
            .collect();
        Self { extra, region: None }
    }

    /// Also allows the CloudFormation response bucket of `region` (e.g. `eu-west-1`); a value
    /// that is not a Region name allows none.
    pub fn in_region(mut self, region: &str) -> Self {
        let region = region.trim().to_ascii_lowercase();
        let well_formed = region.split('-').count() >= 3 && region.split('-').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric()));
        self.region = well_formed.then_some(region);
        self
    }

    /// The URL to PUT to, or why it may not be used (never echoing its query: a signature).
    pub fn check(&self, response_url: &str) -> Result<Url, String> {
        let url = Url::parse(response_url).map_err(|e| format!("the ResponseURL is not a URL ({e})"))?;
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let port = url.port_or_known_default();
        let listed = self.extra.iter().any(|(h, p)| *h == host && p.is_none_or(|p| Some(p) == port));
        let bucket_hosts = self.region.as_deref().map(response_bucket_hosts).unwrap_or_default();
        let allowed = match url.scheme() {
            "https" => listed || (port == Some(443) && bucket_hosts.contains(&host)),
            "http" => listed,
            _ => false,
        };
        if !allowed || !url.username().is_empty() || url.password().is_some() {
            let shown = format!("{}://{}{}", url.scheme(), host, port.map(|p| format!(":{p}")).unwrap_or_default());
            let bucket = match &self.region {
                Some(region) => format!("the CloudFormation response bucket of this function's Region ({}, https, port 443)", bucket_name(region)),
                None => format!("a CloudFormation response bucket ({REGION_ENV} is not set, so none is allowed)"),
            };
            return Err(format!("the ResponseURL ({shown}) is not {bucket} nor listed in {ALLOWED_HOSTS_ENV}"));
        }
        Ok(url)
    }
}

/// `cloudformation-custom-resource-response-<region without dashes>`.
fn bucket_name(region: &str) -> String {
    format!("cloudformation-custom-resource-response-{}", region.replace('-', ""))
}

/// The virtual-hosted names of the Region's response bucket on S3's endpoints for that Region.
fn response_bucket_hosts(region: &str) -> Vec<String> {
    let bucket = bucket_name(region);
    let endpoints: Vec<String> = if region.starts_with("cn-") {
        vec![format!("s3.{region}.amazonaws.com.cn"), format!("s3.dualstack.{region}.amazonaws.com.cn")]
    } else {
        vec![
            "s3.amazonaws.com".to_string(),
            format!("s3.{region}.amazonaws.com"),
            format!("s3-{region}.amazonaws.com"),
            format!("s3.dualstack.{region}.amazonaws.com"),
        ]
    };
    endpoints.into_iter().map(|endpoint| format!("{bucket}.{endpoint}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_response_bucket_of_the_functions_region_is_allowed_over_https_on_443_only() {
        let us_east_1 = Allowlist::default().in_region("us-east-1");
        let eu_west_1 = Allowlist::parse("").in_region("eu-west-1");
        let cn_north_1 = Allowlist::default().in_region("cn-north-1");
        for (list, ok) in [
            (&us_east_1, "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3A/x?X-Amz-Signature=s"),
            (&us_east_1, "https://cloudformation-custom-resource-response-useast1.s3.us-east-1.amazonaws.com/k"),
            (&us_east_1, "https://CloudFormation-Custom-Resource-Response-UsEast1.S3.Amazonaws.com/k"),
            (&eu_west_1, "https://cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com/k"),
            (&eu_west_1, "https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com:443/k"),
            (&eu_west_1, "https://cloudformation-custom-resource-response-euwest1.s3.dualstack.eu-west-1.amazonaws.com/k"),
            (&eu_west_1, "https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/k"),
            (&cn_north_1, "https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn/k"),
            (&cn_north_1, "https://cloudformation-custom-resource-response-cnnorth1.s3.dualstack.cn-north-1.amazonaws.com.cn/k"),
        ] {
            assert!(list.check(ok).is_ok(), "{ok}: {:?}", list.check(ok));
        }
        for (list, bad) in [
            // Another Region's bucket, on its own endpoint or on this Region's.
            (&us_east_1, "https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com/k"),
            (&us_east_1, "https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/k"),
            (&eu_west_1, "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/k"),
            // This Region's bucket on another Region's endpoint.
            (&eu_west_1, "https://cloudformation-custom-resource-response-euwest1.s3.us-east-1.amazonaws.com/k"),
            (&eu_west_1, "https://cloudformation-custom-resource-response-euwest1.s3-eu-west-2.amazonaws.com/k"),
            // Endpoint forms S3 does not have, or in the wrong partition.
            (&eu_west_1, "https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com.cn/k"),
            (&cn_north_1, "https://cloudformation-custom-resource-response-cnnorth1.s3.amazonaws.com/k"),
            (&cn_north_1, "https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com/k"),
            (&us_east_1, "https://cloudformation-custom-resource-response-useast1.s3.evil.amazonaws.com/k"),
            (&us_east_1, "https://cloudformation-custom-resource-response-useast1x.s3.amazonaws.com/k"),
            (&us_east_1, "https://x.cloudformation-custom-resource-response-useast1.s3.amazonaws.com/k"),
            // Not https on 443, or not the bucket at all.
            (&us_east_1, "http://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/k"),
            (&us_east_1, "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com:8443/k"),
            (&us_east_1, "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com.evil.example/k"),
            (&us_east_1, "https://evil.example/cloudformation-custom-resource-response-useast1.s3.amazonaws.com"),
            (&us_east_1, "https://s3.amazonaws.com/cloudformation-custom-resource-response-useast1/k"),
            (&us_east_1, "https://my-bucket.s3.amazonaws.com/k"),
            (&us_east_1, "https://user@cloudformation-custom-resource-response-useast1.s3.amazonaws.com/k"),
            (&us_east_1, "https://127.0.0.1/k"),
            (&us_east_1, "file:///etc/passwd"),
            (&us_east_1, "not a url"),
        ] {
            let e = list.check(bad).unwrap_err();
            assert!(!e.contains("/k"), "the path and query stay out of the reason: {e}");
        }
        let e = us_east_1.check("https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com/k").unwrap_err();
        assert!(e.contains("cloudformation-custom-resource-response-useast1"), "the reason names the bucket allowed: {e}");
    }

    #[test]
    fn without_a_region_only_listed_hosts_are_allowed() {
        let bucket = "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/k";
        for list in [Allowlist::default(), Allowlist::parse("127.0.0.1:9000"), Allowlist::parse("").in_region(""), Allowlist::parse("").in_region("us east 1")]
        {
            let e = list.check(bucket).unwrap_err();
            assert!(e.contains("AWS_REGION is not set"), "{e}");
        }
        assert!(Allowlist::parse("127.0.0.1:9000").check("http://127.0.0.1:9000/b/k").is_ok());
        // A listed host is allowed whatever the Region.
        assert!(Allowlist::parse("127.0.0.1:9000").in_region("us-east-1").check("http://127.0.0.1:9000/b/k").is_ok());
    }

    #[test]
    fn listed_hosts_match_exactly_with_or_without_a_port() {
        let list = Allowlist::parse(" 127.0.0.1:9000 , localhost");
        assert!(list.check("http://127.0.0.1:9000/b/k?sig").is_ok());
        assert!(list.check("http://127.0.0.1:9001/b/k").is_err(), "another port");
        assert!(list.check("http://127.0.0.2:9000/b/k").is_err(), "another host");
        assert!(list.check("http://localhost:1234/k").is_ok(), "no port listed: any port");
        assert!(list.check("http://localhost.evil.example/k").is_err());
    }
}
