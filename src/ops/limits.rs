//! Every request limit and its default, in one place: the fixed ones as
//! constants, the configurable ones as [`Limits`], the command line's
//! "limits" group.

use std::time::Duration;

/// The largest magnitude Lua (and so every script) holds exactly: 2^53−1.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;
/// The longest caller key, in bytes, by default (`--max-key-bytes`).
pub const MAX_KEY_BYTES: usize = 256;
/// The longest id (store, product, book, account, name, order, request).
pub const MAX_ID_BYTES: usize = 128;
/// The largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// The most items one request may carry (`--max-items` at most): the
/// scripts `unpack` them, and Lua cannot unpack more than about 8000
/// values.
pub const MAX_ITEMS: u32 = 1000;
/// The most items one request carries by default (`--max-items`).
pub const DEFAULT_MAX_ITEMS: u32 = 100;
/// Most conditions in one ConditionalUpdate.
pub const MAX_CONDITIONS: usize = 64;
/// Most writes in one ConditionalUpdate.
pub const MAX_WRITES: usize = 64;
/// Most ids one NextIds issues or one ReturnIds gives back.
pub const MAX_IDS: usize = 1000;
/// The longest posting or transfer reference, in characters.
pub const MAX_REFERENCE_CHARS: usize = 128;
/// The longest posting or transfer description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 512;
/// The furthest a quota's day may be from UTC: ±14 hours.
pub const MAX_UTC_OFFSET_MINUTES: i32 = 14 * 60;
/// The most entries one page of a list may hold.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// The page size when the caller asks for none.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// The longest a hold may last by default (`--max-hold-ttl`).
pub const DEFAULT_MAX_HOLD_TTL: Duration = Duration::from_secs(24 * 3600);
/// The longest `--max-hold-ttl`: ten years.
pub const MAX_HOLD_TTL: Duration = Duration::from_secs(3650 * 24 * 3600);

/// The longest a lease grant may last by default (`--max-lease-ttl`).
pub const DEFAULT_MAX_LEASE_TTL: Duration = Duration::from_secs(24 * 3600);

/// Request limits set by configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::Args)]
pub struct Limits {
    /// The longest value or record key accepted, in bytes.
    #[arg(
        long = "max-key-bytes",
        env = "RMW_MAX_KEY_BYTES",
        default_value_t = MAX_KEY_BYTES,
        value_parser = key_bytes,
    )]
    pub max_key_bytes: usize,

    /// Most products, levels or accounts in one request (SetStock,
    /// GetStock, PlaceOrder, GetBalances): 1 to 1000, well below the ~8000
    /// values a Lua script can `unpack` at once.
    #[arg(
        long = "max-items",
        env = "RMW_MAX_ITEMS",
        default_value_t = DEFAULT_MAX_ITEMS as usize,
        value_parser = items,
    )]
    pub max_items: usize,

    /// The longest a stock hold may last (HoldStock's `ttl`): 1ms to
    /// 3650d.
    #[arg(
        long = "max-hold-ttl",
        env = "RMW_MAX_HOLD_TTL",
        default_value = "24h",
        value_parser = hold_ttl,
    )]
    pub max_hold_ttl: Duration,

    /// The longest a lease grant may last (Acquire's and Renew's `ttl`):
    /// 1ms to 3650d.
    #[arg(
        long = "max-lease-ttl",
        env = "RMW_MAX_LEASE_TTL",
        default_value = "24h",
        value_parser = hold_ttl,
    )]
    pub max_lease_ttl: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_key_bytes: MAX_KEY_BYTES,
            max_items: DEFAULT_MAX_ITEMS as usize,
            max_hold_ttl: DEFAULT_MAX_HOLD_TTL,
            max_lease_ttl: DEFAULT_MAX_LEASE_TTL,
        }
    }
}

/// `--max-hold-ttl`: 1ms to ten years (what `lua/lib/prelude.lua` lets a
/// script add to Redis's clock).
fn hold_ttl(text: &str) -> Result<Duration, String> {
    let ttl = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if ttl < Duration::from_millis(1) || ttl > MAX_HOLD_TTL {
        return Err("must be from 1ms to 3650days".into());
    }
    Ok(ttl)
}

/// `--max-key-bytes`: 1 to 65536.
fn key_bytes(text: &str) -> Result<usize, String> {
    within(text, 1, 65536)
}

/// `--max-items`: 1 to [`MAX_ITEMS`].
fn items(text: &str) -> Result<usize, String> {
    within(text, 1, MAX_ITEMS as usize)
}

fn within(text: &str, min: usize, max: usize) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("must be a whole number from {min} to {max}")),
    }
}
