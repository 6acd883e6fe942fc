//! Which ResponseURLs the function may PUT to (issue 13): CloudFormation's own response
//! buckets over https on port 443, plus the exact hosts CFN_RESPONSE_URL_ALLOWED_HOSTS names
//! (for local testing; the template never sets it). Anything else gets no connection at all.

use url::Url;

pub const ALLOWED_HOSTS_ENV: &str = "CFN_RESPONSE_URL_ALLOWED_HOSTS";

/// The hosts a ResponseURL may name.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    /// Exact extra hosts, each with an optional port (`None`: any port).
    extra: Vec<(String, Option<u16>)>,
}

impl Allowlist {
    pub fn from_env() -> Self {
        Self::parse(&std::env::var(ALLOWED_HOSTS_ENV).unwrap_or_default())
    }

    /// `host` or `host:port` entries, comma-separated; blanks ignored.
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
        Self { extra }
    }

    /// The URL to PUT to, or why it may not be used (never echoing its query: a signature).
    pub fn check(&self, response_url: &str) -> Result<Url, String> {
        let url = Url::parse(response_url).map_err(|e| format!("the ResponseURL is not a URL ({e})"))?;
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let port = url.port_or_known_default();
        let listed = self.extra.iter().any(|(h, p)| *h == host && p.is_none_or(|p| Some(p) == port));
        let allowed = match url.scheme() {
            "https" => listed || (port == Some(443) && is_response_bucket(&host)),
            "http" => listed,
            _ => false,
        };
        if !allowed || !url.username().is_empty() || url.password().is_some() {
            let shown = format!("{}://{}{}", url.scheme(), host, port.map(|p| format!(":{p}")).unwrap_or_default());
            return Err(format!(
                "the ResponseURL ({shown}) is not one of CloudFormation's response buckets (https, port 443) nor listed in {ALLOWED_HOSTS_ENV}"
            ));
        }
        Ok(url)
    }
}

/// `cloudformation-custom-resource-response-<region...>.s3[.-]<...>.amazonaws.com[.cn]`.
fn is_response_bucket(host: &str) -> bool {
    let Some(rest) = host.strip_prefix("cloudformation-custom-resource-response-") else {
        return false;
    };
    let Some(rest) = rest.strip_suffix(".amazonaws.com").or_else(|| rest.strip_suffix(".amazonaws.com.cn")) else {
        return false;
    };
    // The bucket is `...-<region without dashes>`; then `.s3.` / `.s3-` and the endpoint's region part.
    let Some((bucket_suffix, endpoint)) = rest.split_once(".s3") else {
        return false;
    };
    let region_ok = !bucket_suffix.is_empty() && bucket_suffix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let endpoint_ok = endpoint.is_empty()
        || ((endpoint.starts_with('.') || endpoint.starts_with('-'))
            && endpoint[1..].split('.').all(|label| !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')));
    region_ok && endpoint_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudformation_response_buckets_are_allowed_over_https_on_443_only() {
        let none = Allowlist::default();
        for ok in [
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3A/x?X-Amz-Signature=s",
            "https://cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com/k",
            "https://cloudformation-custom-resource-response-uswest2.s3.us-west-2.amazonaws.com:443/k",
            "https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn/k",
        ] {
            assert!(none.check(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/k",
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com:8443/k",
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com.evil.example/k",
            "https://evil.example/cloudformation-custom-resource-response-useast1.s3.amazonaws.com",
            "https://my-bucket.s3.amazonaws.com/k",
            "https://user@cloudformation-custom-resource-response-useast1.s3.amazonaws.com/k",
            "https://127.0.0.1/k",
            "file:///etc/passwd",
            "not a url",
        ] {
            let e = none.check(bad).unwrap_err();
            assert!(!e.contains("/k"), "the path and query stay out of the reason: {e}");
        }
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
