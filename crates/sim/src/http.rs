//! HTTP helpers shared by the commands that talk to a server.
//!
//! Only the public API is used (`/v2/geosubmit`, `/v1/geolocate`), so the commands work
//! against any Ichnaea-compatible server. The API key travels as `?key=`; it is never
//! printed.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::Value;

/// A server and the key to use with it.
#[derive(Clone, Debug)]
pub struct Target {
    /// Base URL, e.g. `http://127.0.0.1:8790`.
    pub base: String,
    /// API key, if any.
    pub key: Option<String>,
    /// The HTTP client (connection pool).
    pub client: reqwest::Client,
}

/// What a geolocate call returned.
#[derive(Clone, Debug)]
pub struct Located {
    /// HTTP status.
    pub status: u16,
    /// Latitude, longitude and accuracy of a successful answer.
    pub position: Option<(f64, f64, f64)>,
    /// The `fallback` field of the answer, if any.
    pub fallback: Option<String>,
}

impl Target {
    /// A target with a connection pool sized for `concurrency` requests in flight.
    pub fn new(base: &str, key: Option<String>, concurrency: usize) -> Result<Target> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency.max(1))
            .timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()?;
        Ok(Target {
            base: base.trim_end_matches('/').to_owned(),
            key,
            client,
        })
    }

    /// The URL of an API path with the key.
    pub fn url(&self, path: &str) -> String {
        match &self.key {
            Some(k) => format!("{}{path}?key={k}", self.base),
            None => format!("{}{path}", self.base),
        }
    }

    /// Posts a geosubmit v2 body; returns the status.
    pub async fn geosubmit(&self, body: &Value, user_agent: &str, gzip: bool) -> Result<u16> {
        let json = serde_json::to_vec(body)?;
        let mut req = self
            .client
            .post(self.url("/v2/geosubmit"))
            .header("Content-Type", "application/json")
            .header("User-Agent", user_agent);
        if gzip {
            let mut enc = GzEncoder::new(Vec::with_capacity(json.len() / 4), Compression::new(5));
            enc.write_all(&json)?;
            req = req.header("Content-Encoding", "gzip").body(enc.finish()?);
        } else {
            req = req.body(json);
        }
        Ok(req.send().await?.status().as_u16())
    }

    /// Posts a geolocate body.
    pub async fn geolocate(
        &self,
        body: &Value,
        user_agent: &str,
        ip: Option<&str>,
    ) -> Result<Located> {
        let mut req = self
            .client
            .post(self.url("/v1/geolocate"))
            .header("User-Agent", user_agent)
            .json(body);
        if let Some(ip) = ip {
            req = req.header("X-Forwarded-For", ip);
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        let bytes = res.bytes().await?;
        if status != 200 {
            return Ok(Located {
                status,
                position: None,
                fallback: None,
            });
        }
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let position = match (
            v["location"]["lat"].as_f64(),
            v["location"]["lng"].as_f64(),
            v["accuracy"].as_f64(),
        ) {
            (Some(lat), Some(lng), Some(acc)) => Some((lat, lng, acc)),
            _ => None,
        };
        Ok(Located {
            status,
            position,
            fallback: v["fallback"].as_str().map(str::to_owned),
        })
    }
}

/// Linear-interpolation percentile (`q` in 0..=1) of sorted values.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(&v, 0.5), Some(3.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&v, 1.0), Some(5.0));
        assert_eq!(percentile(&v, 0.9), Some(4.6));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn url_carries_the_key() {
        let t = Target::new("http://h:1/", Some("k1".into()), 1).expect("client");
        assert_eq!(t.url("/v1/geolocate"), "http://h:1/v1/geolocate?key=k1");
    }
}
