//! The HTTP paths' settings: browsers and the console.

use clap::Args;

/// How browsers reach the API.
#[derive(Clone, Debug, Default, Args)]
pub struct HttpSettings {
    /// An origin (`https://ops.example.com`) whose pages may call the API
    /// from a browser, over gRPC-Web or Connect (CORS); comma-separated or
    /// repeated for several, `*` for any. None by default: a browser then
    /// calls only from the service's own origin, as the console does.
    #[arg(long = "cors-origin", env = "RMW_CORS_ORIGIN", value_name = "ORIGIN", value_delimiter = ',', value_parser = origin)]
    pub cors_origins: Vec<String>,

    /// Serve the read-only console at `/console` on the gRPC port.
    #[arg(long, env = "RMW_CONSOLE")]
    pub console: bool,
}

/// `*`, or `scheme://host[:port]` as a browser sends it in `Origin`.
fn origin(value: &str) -> Result<String, String> {
    if value == "*" {
        return Ok(value.to_owned());
    }
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or("an origin is http:// or https:// and a host, e.g. https://ops.example.com")?;
    let ok = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "{value:?} is not an origin: scheme and host only, no path (https://ops.example.com:8443)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::origin;

    #[test]
    fn origins_are_scheme_and_host() {
        assert!(origin("https://ops.example.com").is_ok());
        assert!(origin("http://localhost:8080").is_ok());
        assert!(origin("*").is_ok());
        assert!(origin("ops.example.com").is_err());
        assert!(origin("https://ops.example.com/").is_err());
        assert!(origin("https://").is_err());
    }
}
