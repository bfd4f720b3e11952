//! The automated rate control of locate samples (`pipeline.md` §9.3), as pure functions.
//!
//! Locate queries are sampled into the data pipeline at `global_locate_sample_rate`
//! percent. When the station queues back up (the *backlog*), the monitor task lowers that
//! rate with a PID controller whose setpoint is the operator's target backlog, and it stops
//! sampling altogether while the database's InnoDB undo history is too long to purge
//! ("purging mode"). Operators steer it through Redis keys ([`keys`]); the controller's
//! state lives in Redis too, so whichever worker runs the task next continues where the
//! last one stopped.
//!
//! This module holds everything that needs no IO, so it can be tested against the
//! reference's examples exactly: parsing and range-checking the parameters (and deciding
//! which Redis keys to reset), the PID controller (the semantics of `simple-pid` 1.0.1 as
//! the reference uses it), the purging rule and the rate computation. The worker task does
//! the Redis and database reads and writes.
//!
//! One deliberate difference from the reference: the controller's `last_time` is
//! **wall-clock** seconds since the Unix epoch, not a monotonic-clock reading. The state is
//! persisted and resumed by any worker on any host, where a monotonic reading from another
//! process means nothing. A time step that is not positive (clock skew between hosts) is
//! treated like a zero step.

use serde::{Deserialize, Serialize};

/// The Redis keys the rate control reads and writes.
pub mod keys {
    /// The global locate sample rate, a float string in 0–100 (read by the api).
    pub const RATE: &str = "global_locate_sample_rate";
    /// `0` or `1`: whether the controller runs.
    pub const ENABLED: &str = "rate_controller_enabled";
    /// Target backlog (observations), an integer ≥ 0.
    pub const TARGET: &str = "rate_controller_target";
    /// Proportional gain, a float ≥ 0.
    pub const KP: &str = "rate_controller_kp";
    /// Integral gain, a float ≥ 0.
    pub const KI: &str = "rate_controller_ki";
    /// Derivative gain, a float ≥ 0.
    pub const KD: &str = "rate_controller_kd";
    /// The persisted controller state (JSON; `{}` when disabled).
    pub const STATE: &str = "rate_controller_state";
    /// `0` or `1`: whether purging mode is on.
    pub const TRX_PURGING: &str = "rate_controller_trx_purging";
    /// History length below which purging mode ends, an integer > 0.
    pub const TRX_MIN: &str = "rate_controller_trx_min";
    /// History length above which purging mode starts, an integer > `TRX_MIN`.
    pub const TRX_MAX: &str = "rate_controller_trx_max";

    /// Every key, in the order [`RawParams::from_values`](super::RawParams::from_values)
    /// expects their values.
    pub const ALL: [&str; 10] = [
        RATE,
        ENABLED,
        TARGET,
        KP,
        KI,
        KD,
        STATE,
        TRX_PURGING,
        TRX_MIN,
        TRX_MAX,
    ];
}

/// The rate used when `global_locate_sample_rate` is missing or unparsable.
pub const DEFAULT_RATE: f64 = 100.0;
/// Default proportional gain.
pub const DEFAULT_KP: f64 = 8.0;
/// Default history length below which purging mode ends.
pub const DEFAULT_TRX_MIN: u64 = 1000;
/// Default history length above which purging mode starts.
pub const DEFAULT_TRX_MAX: u64 = 1_000_000;
/// The state written while the controller is disabled.
pub const DISABLED_STATE: &str = "{}";

/// The time step used when no time has passed since the last update (as `simple-pid`).
const MIN_DT: f64 = 1e-16;

/// The raw Redis values of the parameters (`None`: the key is missing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawParams {
    /// `global_locate_sample_rate`.
    pub rate: Option<String>,
    /// `rate_controller_enabled`.
    pub enabled: Option<String>,
    /// `rate_controller_target`.
    pub target: Option<String>,
    /// `rate_controller_kp`.
    pub kp: Option<String>,
    /// `rate_controller_ki`.
    pub ki: Option<String>,
    /// `rate_controller_kd`.
    pub kd: Option<String>,
    /// `rate_controller_state`.
    pub state: Option<String>,
    /// `rate_controller_trx_purging`.
    pub trx_purging: Option<String>,
    /// `rate_controller_trx_min`.
    pub trx_min: Option<String>,
    /// `rate_controller_trx_max`.
    pub trx_max: Option<String>,
}

impl RawParams {
    /// The parameters from the values of [`keys::ALL`], in that order; missing trailing
    /// values count as missing keys.
    pub fn from_values(values: Vec<Option<String>>) -> RawParams {
        let mut it = values.into_iter();
        let mut next = || it.next().flatten();
        RawParams {
            rate: next(),
            enabled: next(),
            target: next(),
            kp: next(),
            ki: next(),
            kd: next(),
            state: next(),
            trx_purging: next(),
            trx_min: next(),
            trx_max: next(),
        }
    }
}

/// A parameter whose Redis value was unparsable or out of range, and has been reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidParam {
    /// The Redis key.
    pub key: &'static str,
    /// The value found (`None`: missing), cut to 40 characters.
    pub value: Option<String>,
    /// The value it is reset to.
    pub reset_to: String,
}

/// The controller gains.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gains {
    /// Proportional gain.
    pub kp: f64,
    /// Integral gain.
    pub ki: f64,
    /// Derivative gain.
    pub kd: f64,
}

/// Valid parameters of an enabled controller.
#[derive(Debug, Clone, PartialEq)]
pub struct ControllerSettings {
    /// Target backlog: the setpoint, and the upper output limit.
    pub target: u64,
    /// The gains.
    pub gains: Gains,
    /// Whether purging mode was on.
    pub trx_purging: bool,
    /// History length below which purging mode ends.
    pub trx_min: u64,
    /// History length above which purging mode starts.
    pub trx_max: u64,
    /// The persisted running state, when there is a complete one.
    pub saved: Option<PidState>,
}

impl ControllerSettings {
    /// The controller: resumed from the saved state, or fresh (created at `now`).
    pub fn controller(&self, now: f64) -> Pid {
        match &self.saved {
            Some(saved) => Pid::resume(self.gains, self.target, saved),
            None => Pid::new(self.gains, self.target, now),
        }
    }
}

/// What [`load`] found in the parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The current (manual or last controlled) rate.
    pub rate: f64,
    /// The controller settings when it is enabled and every parameter is valid.
    pub settings: Option<ControllerSettings>,
    /// Redis `SET`s to make, in order: defaults for missing keys, resets of invalid ones,
    /// and the disabling of the controller.
    pub writes: Vec<(&'static str, String)>,
    /// The invalid parameters, to log.
    pub invalid: Vec<InvalidParam>,
}

impl Loaded {
    fn disable(&mut self) {
        self.writes.push((keys::STATE, DISABLED_STATE.to_owned()));
    }
}

fn parse_int(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

fn parse_float(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Loads one parameter: a missing one takes its default (written back), an unparsable or
/// out-of-range one is reset to its default (or `0`) and reported.
fn param<T: Copy>(
    out: &mut Loaded,
    key: &'static str,
    raw: Option<&str>,
    default: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
    in_range: impl Fn(T) -> bool,
) -> Option<T> {
    let text = match (raw, default) {
        (Some(text), _) => Some(text),
        (None, Some(default)) => {
            out.writes.push((key, default.to_owned()));
            Some(default)
        }
        (None, None) => None,
    };
    let value = text.and_then(&parse).filter(|v| in_range(*v));
    if value.is_none() {
        let reset_to = default.unwrap_or("0").to_owned();
        out.invalid.push(InvalidParam {
            key,
            value: raw.map(|r| r.chars().take(40).collect()),
            reset_to: reset_to.clone(),
        });
        out.writes.push((key, reset_to));
    }
    value
}

/// Parses and checks the parameters (`pipeline.md` §9.3 step 1).
///
/// * The rate is the stored float, or [`DEFAULT_RATE`].
/// * `enabled` must be `0` or `1` (a missing or invalid one is written as `0`). When the
///   controller is not enabled its state is reset to `{}` and nothing else is read.
/// * `target` int ≥ 0 (no default); `kp`, `ki`, `kd` float ≥ 0 (defaults 8, 0, 0);
///   `trx_purging` 0/1 (default 0); `trx_min` int > 0 (default 1000); `trx_max` int >
///   `trx_min` (default 1 000 000). Missing parameters with a default take it (and it is
///   written). An invalid one is reset and **disables** the controller.
/// * A saved state is resumed only when it is `"running"` and complete.
pub fn load(raw: &RawParams) -> Loaded {
    let mut out = Loaded {
        rate: raw
            .rate
            .as_deref()
            .and_then(parse_float)
            .unwrap_or(DEFAULT_RATE),
        settings: None,
        writes: Vec::new(),
        invalid: Vec::new(),
    };
    let enabled = param(
        &mut out,
        keys::ENABLED,
        raw.enabled.as_deref(),
        None,
        parse_int,
        |v| v == 0 || v == 1,
    );
    if enabled != Some(1) {
        out.disable();
        return out;
    }
    let target = param(
        &mut out,
        keys::TARGET,
        raw.target.as_deref(),
        None,
        parse_int,
        |v| v >= 0,
    );
    let gain = |v: f64| v >= 0.0;
    let kp = param(
        &mut out,
        keys::KP,
        raw.kp.as_deref(),
        Some("8"),
        parse_float,
        gain,
    );
    let ki = param(
        &mut out,
        keys::KI,
        raw.ki.as_deref(),
        Some("0"),
        parse_float,
        gain,
    );
    let kd = param(
        &mut out,
        keys::KD,
        raw.kd.as_deref(),
        Some("0"),
        parse_float,
        gain,
    );
    let purging = param(
        &mut out,
        keys::TRX_PURGING,
        raw.trx_purging.as_deref(),
        Some("0"),
        parse_int,
        |v| v == 0 || v == 1,
    );
    let trx_min = param(
        &mut out,
        keys::TRX_MIN,
        raw.trx_min.as_deref(),
        Some("1000"),
        parse_int,
        |v| v > 0,
    );
    let floor = trx_min.unwrap_or(0);
    let trx_max = param(
        &mut out,
        keys::TRX_MAX,
        raw.trx_max.as_deref(),
        Some("1000000"),
        parse_int,
        |v| v > floor,
    );
    let (Some(target), Some(kp), Some(ki), Some(kd), Some(purging), Some(trx_min), Some(trx_max)) =
        (target, kp, ki, kd, purging, trx_min, trx_max)
    else {
        out.writes.push((keys::ENABLED, "0".to_owned()));
        out.disable();
        return out;
    };
    // The range checks above make these conversions exact.
    let as_u64 = |v: i64| u64::try_from(v).unwrap_or(0);
    out.settings = Some(ControllerSettings {
        target: as_u64(target),
        gains: Gains { kp, ki, kd },
        trx_purging: purging == 1,
        trx_min: as_u64(trx_min),
        trx_max: as_u64(trx_max),
        saved: raw.state.as_deref().and_then(PidState::parse_running),
    });
    out
}

/// The persisted controller state:
/// `{"state": "running", "p_term", "i_term", "d_term", "last_output", "last_input",
/// "last_time"}` with `last_time` in wall-clock seconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PidState {
    /// Always `"running"`.
    pub state: String,
    /// Proportional term of the last update.
    pub p_term: f64,
    /// Integral term (accumulated).
    pub i_term: f64,
    /// Derivative term of the last update.
    pub d_term: f64,
    /// Output of the last update.
    pub last_output: f64,
    /// Input (backlog) of the last update.
    pub last_input: f64,
    /// Wall-clock time of the last update, seconds since the Unix epoch.
    pub last_time: f64,
}

impl PidState {
    /// The marker of a persisted running controller.
    pub const RUNNING: &'static str = "running";

    /// A saved state if `text` is a complete running state; anything else (the `{}` of a
    /// disabled controller, a missing field, a `null`, unreadable JSON) means "start
    /// fresh".
    pub fn parse_running(text: &str) -> Option<PidState> {
        serde_json::from_str::<PidState>(text)
            .ok()
            .filter(|s| s.state == Self::RUNNING)
    }

    /// The JSON text stored in Redis.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

/// Clamps as `simple-pid` does: a NaN passes through.
fn clamp(value: f64, lower: f64, upper: f64) -> f64 {
    if value > upper {
        upper
    } else if value < lower {
        lower
    } else {
        value
    }
}

/// A PID controller with the semantics of `simple-pid` 1.0.1 as the reference configures
/// it: setpoint = target, output limits `[0, target]`, no sample time, proportional on
/// error.
#[derive(Debug, Clone, PartialEq)]
pub struct Pid {
    gains: Gains,
    target: f64,
    proportional: f64,
    integral: f64,
    derivative: f64,
    last_input: Option<f64>,
    last_output: Option<f64>,
    last_time: f64,
}

impl Pid {
    /// A fresh controller created at `now` (wall-clock seconds).
    pub fn new(gains: Gains, target: u64, now: f64) -> Pid {
        Pid {
            gains,
            target: target as f64,
            proportional: 0.0,
            integral: 0.0,
            derivative: 0.0,
            last_input: None,
            last_output: None,
            last_time: now,
        }
    }

    /// A controller resumed from a saved state; the output limits are re-applied, which
    /// clamps the integral and the last output into `[0, target]`.
    pub fn resume(gains: Gains, target: u64, saved: &PidState) -> Pid {
        let target = target as f64;
        Pid {
            gains,
            target,
            proportional: saved.p_term,
            integral: clamp(saved.i_term, 0.0, target),
            derivative: saved.d_term,
            last_input: Some(saved.last_input),
            last_output: Some(clamp(saved.last_output, 0.0, target)),
            last_time: saved.last_time,
        }
    }

    /// Feeds the controller the current backlog at `now`; returns its output in
    /// `[0, target]`.
    pub fn update(&mut self, input: f64, now: f64) -> f64 {
        let elapsed = now - self.last_time;
        let dt = if elapsed > 0.0 { elapsed } else { MIN_DT };
        let error = self.target - input;
        let d_input = input - self.last_input.unwrap_or(input);
        self.proportional = self.gains.kp * error;
        self.integral = clamp(self.integral + self.gains.ki * error * dt, 0.0, self.target);
        self.derivative = -self.gains.kd * d_input / dt;
        let output = clamp(
            self.proportional + self.integral + self.derivative,
            0.0,
            self.target,
        );
        self.last_output = Some(output);
        self.last_input = Some(input);
        self.last_time = now;
        output
    }

    /// The proportional, integral and derivative terms.
    pub fn components(&self) -> (f64, f64, f64) {
        (self.proportional, self.integral, self.derivative)
    }

    /// The state to persist, once the controller has been updated at least once.
    pub fn state(&self) -> Option<PidState> {
        Some(PidState {
            state: PidState::RUNNING.to_owned(),
            p_term: self.proportional,
            i_term: self.integral,
            d_term: self.derivative,
            last_output: self.last_output?,
            last_input: self.last_input?,
            last_time: self.last_time,
        })
    }
}

/// The purging rule: known history above `max` turns purging on; while purging, a
/// history below `min` turns it off; otherwise (or when the length is unknown) the mode
/// stays as it was.
pub fn next_purging(purging: bool, history: Option<u64>, min: u64, max: u64) -> bool {
    match history {
        Some(length) if length > max => true,
        Some(length) if purging && length < min => false,
        _ => purging,
    }
}

/// The sample rate for a controller output: `100 × clamp(output / target, 0, 1)`.
///
/// A target of 0 pins the output to 0, so the rate is 0 (the reference divides by zero
/// here); a NaN ratio counts as 1, as in the reference's `max(0, min(1, ratio))`.
pub fn sample_rate(output: f64, target: u64) -> f64 {
    if target == 0 {
        return 0.0;
    }
    let ratio = output / target as f64;
    let ratio = if ratio.is_nan() {
        1.0
    } else {
        ratio.clamp(0.0, 1.0)
    };
    100.0 * ratio
}

/// What one run of the controller decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The new global locate sample rate.
    pub rate: f64,
    /// Whether purging mode is on.
    pub purging: bool,
    /// The state to persist (`None` while purging: the saved state stays as it was).
    pub state: Option<PidState>,
    /// The controller's proportional, integral and derivative terms.
    pub terms: (f64, f64, f64),
}

/// Runs the controller once (`pipeline.md` §9.3 step 4) for the current `backlog` and
/// InnoDB `history` length (if known) at wall-clock time `now`.
pub fn control(
    settings: &ControllerSettings,
    backlog: u64,
    history: Option<u64>,
    now: f64,
) -> Outcome {
    let purging = next_purging(
        settings.trx_purging,
        history,
        settings.trx_min,
        settings.trx_max,
    );
    let mut pid = settings.controller(now);
    if purging {
        return Outcome {
            rate: 0.0,
            purging,
            state: None,
            terms: pid.components(),
        };
    }
    let output = pid.update(backlog as f64, now);
    Outcome {
        rate: sample_rate(output, settings.target),
        purging,
        state: pid.state(),
        terms: pid.components(),
    }
}

/// A rate as the reference writes it to Redis (Python's `repr` of a float: `100.0`,
/// `56.4`).
pub fn rate_text(rate: f64) -> String {
    format!("{rate:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1_700_000_000.0;

    fn raw(pairs: &[(&str, &str)]) -> RawParams {
        let values = keys::ALL
            .iter()
            .map(|k| {
                pairs
                    .iter()
                    .find(|(name, _)| name == k)
                    .map(|(_, v)| (*v).to_owned())
            })
            .collect();
        RawParams::from_values(values)
    }

    /// The reference test fixture: kp 1, ki 0.002, kd 0.2, target 1000, enabled.
    fn enabled(extra: &[(&'static str, &'static str)]) -> RawParams {
        let mut pairs = vec![
            (keys::KP, "1.0"),
            (keys::KI, "0.002"),
            (keys::KD, "0.2"),
            (keys::TARGET, "1000"),
            (keys::ENABLED, "1"),
            (keys::TRX_PURGING, "0"),
            (keys::TRX_MIN, "1000"),
            (keys::TRX_MAX, "1000000"),
        ];
        for (k, v) in extra {
            pairs.retain(|(name, _)| name != k);
            pairs.push((k, v));
        }
        raw(&pairs)
    }

    fn written<'a>(loaded: &'a Loaded, key: &str) -> Option<&'a str> {
        loaded
            .writes
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn rate_defaults_to_100() {
        assert_eq!(load(&raw(&[])).rate, 100.0);
        assert_eq!(load(&raw(&[(keys::RATE, "abc")])).rate, 100.0);
        assert_eq!(load(&raw(&[(keys::RATE, "nan")])).rate, 100.0);
        assert_eq!(load(&raw(&[(keys::RATE, "56.4")])).rate, 56.4);
        assert_eq!(load(&raw(&[(keys::RATE, "0")])).rate, 0.0);
    }

    #[test]
    fn disabled_controller_keeps_the_manual_rate_and_resets_its_state() {
        let loaded = load(&raw(&[(keys::ENABLED, "0"), (keys::RATE, "56.4")]));
        assert_eq!(loaded.rate, 56.4);
        assert!(loaded.settings.is_none());
        assert!(loaded.invalid.is_empty());
        assert_eq!(loaded.writes, vec![(keys::STATE, "{}".to_owned())]);
    }

    #[test]
    fn missing_or_invalid_enabled_is_written_as_zero() {
        for value in [None, Some("-1"), Some("2"), Some("a string"), Some("1.0")] {
            let mut r = enabled(&[]);
            r.enabled = value.map(str::to_owned);
            let loaded = load(&r);
            assert!(loaded.settings.is_none(), "{value:?}");
            assert_eq!(written(&loaded, keys::ENABLED), Some("0"), "{value:?}");
            assert_eq!(written(&loaded, keys::STATE), Some("{}"), "{value:?}");
            assert_eq!(loaded.invalid.len(), 1);
            // Nothing else is read or written while disabled.
            assert_eq!(loaded.writes.len(), 2, "{value:?}: {:?}", loaded.writes);
        }
    }

    #[test]
    fn invalid_target_disables_the_controller() {
        for value in [None, Some("-1"), Some("a string")] {
            let mut r = enabled(&[]);
            r.target = value.map(str::to_owned);
            let loaded = load(&r);
            assert!(loaded.settings.is_none());
            assert_eq!(written(&loaded, keys::TARGET), Some("0"));
            assert_eq!(written(&loaded, keys::ENABLED), Some("0"));
            assert_eq!(written(&loaded, keys::STATE), Some("{}"));
            assert_eq!(loaded.invalid[0].key, keys::TARGET);
            assert_eq!(loaded.invalid[0].value.as_deref(), value);
        }
    }

    #[test]
    fn missing_gains_take_their_defaults() {
        for (key, default) in [(keys::KP, "8"), (keys::KI, "0"), (keys::KD, "0")] {
            let mut pairs: Vec<(&str, &str)> = vec![
                (keys::TARGET, "1000"),
                (keys::KP, "1"),
                (keys::KI, "0.002"),
                (keys::KD, "0.2"),
                (keys::ENABLED, "1"),
            ];
            pairs.retain(|(k, _)| *k != key);
            let loaded = load(&raw(&pairs));
            assert!(loaded.invalid.is_empty(), "{key}: {:?}", loaded.invalid);
            assert_eq!(written(&loaded, key), Some(default));
            assert_eq!(written(&loaded, keys::ENABLED), None, "stays enabled");
            let settings = loaded.settings.clone().unwrap();
            let gain = match key {
                keys::KP => settings.gains.kp,
                keys::KI => settings.gains.ki,
                _ => settings.gains.kd,
            };
            assert_eq!(gain, default.parse::<f64>().unwrap());
            // The trx parameters took their defaults too.
            assert_eq!(settings.trx_min, DEFAULT_TRX_MIN);
            assert_eq!(settings.trx_max, DEFAULT_TRX_MAX);
            assert!(!settings.trx_purging);
            assert_eq!(written(&loaded, keys::TRX_MIN), Some("1000"));
            assert_eq!(written(&loaded, keys::TRX_MAX), Some("1000000"));
            assert_eq!(written(&loaded, keys::TRX_PURGING), Some("0"));
        }
    }

    #[test]
    fn invalid_gains_are_reset_to_their_defaults_and_disable() {
        for (key, default) in [(keys::KP, "8"), (keys::KI, "0"), (keys::KD, "0")] {
            for value in ["-1", "a string", "inf"] {
                let mut r = enabled(&[]);
                match key {
                    keys::KP => r.kp = Some(value.to_owned()),
                    keys::KI => r.ki = Some(value.to_owned()),
                    _ => r.kd = Some(value.to_owned()),
                }
                let loaded = load(&r);
                assert!(loaded.settings.is_none(), "{key}={value}");
                assert_eq!(written(&loaded, key), Some(default));
                assert_eq!(written(&loaded, keys::ENABLED), Some("0"));
                assert_eq!(written(&loaded, keys::STATE), Some("{}"));
                assert_eq!(loaded.invalid.len(), 1);
                assert_eq!(loaded.invalid[0].reset_to, default);
            }
        }
    }

    #[test]
    fn trx_thresholds_are_range_checked() {
        let loaded = load(&enabled(&[(keys::TRX_MIN, "0")]));
        assert!(loaded.settings.is_none());
        assert_eq!(written(&loaded, keys::TRX_MIN), Some("1000"));
        let loaded = load(&enabled(&[(keys::TRX_MIN, "10"), (keys::TRX_MAX, "10")]));
        assert!(loaded.settings.is_none());
        assert_eq!(written(&loaded, keys::TRX_MAX), Some("1000000"));
        let loaded = load(&enabled(&[(keys::TRX_PURGING, "2")]));
        assert!(loaded.settings.is_none());
        assert_eq!(written(&loaded, keys::TRX_PURGING), Some("0"));
        let loaded = load(&enabled(&[(keys::TRX_MIN, "10"), (keys::TRX_MAX, "100")]));
        let settings = loaded.settings.unwrap();
        assert_eq!((settings.trx_min, settings.trx_max), (10, 100));
        assert!(loaded.writes.is_empty(), "{:?}", loaded.writes);
    }

    #[test]
    fn values_are_trimmed_like_python_numbers() {
        let loaded = load(&enabled(&[(keys::TARGET, " 1000\n"), (keys::KP, "+1e0")]));
        let settings = loaded.settings.unwrap();
        assert_eq!(settings.target, 1000);
        assert_eq!(settings.gains.kp, 1.0);
    }

    /// Target 1000, kp 1, empty queues → P = 1000, output 1000, rate 100, stored
    /// d_term −0, last_input 0, last_output 1000.
    #[test]
    fn fresh_controller_with_empty_queues() {
        let settings = load(&enabled(&[])).settings.unwrap();
        assert!(settings.saved.is_none());
        let outcome = control(&settings, 0, Some(123), NOW);
        assert_eq!(outcome.rate, 100.0);
        assert!(!outcome.purging);
        let state = outcome.state.unwrap();
        assert_eq!(state.p_term, 1000.0);
        assert_eq!(state.d_term, 0.0);
        assert!(state.d_term.is_sign_negative(), "−0 as in the reference");
        assert_eq!(state.last_input, 0.0);
        assert_eq!(state.last_output, 1000.0);
        assert_eq!(state.last_time, NOW);
        let json: serde_json::Value = serde_json::from_str(&state.to_json().unwrap()).unwrap();
        assert_eq!(json["state"], "running");
        assert_eq!(json["p_term"], 1000.0);
        assert_eq!(json["last_output"], 1000.0);
        assert!(state.to_json().unwrap().contains("\"d_term\":-0.0"));
    }

    /// Restored state with backlog 10 → p_term 990, rate 100, the integral moved.
    #[test]
    fn restored_controller_below_target() {
        let saved = r#"{"state": "running", "p_term": 1000, "i_term": 0.0001,
            "d_term": 0.0, "last_input": 0, "last_output": 1000, "last_time": 1699999940.0}"#;
        let settings = load(&enabled(&[(keys::STATE, saved)])).settings.unwrap();
        assert!(settings.saved.is_some());
        let outcome = control(&settings, 10, None, NOW);
        assert_eq!(outcome.rate, 100.0);
        let state = outcome.state.unwrap();
        assert_eq!(state.p_term, 990.0);
        assert_eq!(state.last_input, 10.0);
        assert_eq!(state.last_output, 1000.0);
        assert_ne!(state.i_term, 0.0001);
        assert!((state.i_term - (0.0001 + 0.002 * 990.0 * 60.0)).abs() < 1e-9);
        assert!((state.d_term - (-0.2 * 10.0 / 60.0)).abs() < 1e-12);
        assert!(state.last_time > 1_699_999_940.0);
    }

    /// Target lowered to 5 with backlog 10 → p_term −5, output 0, rate 0.
    #[test]
    fn restored_controller_above_a_new_target() {
        let saved = r#"{"state": "running", "p_term": 990.0, "i_term": 0.0001,
            "d_term": 0.0, "last_input": 10, "last_output": 1000, "last_time": 1699999940.0}"#;
        let settings = load(&enabled(&[(keys::TARGET, "5"), (keys::STATE, saved)]))
            .settings
            .unwrap();
        let pid = settings.controller(NOW);
        // Re-applying the limits clamps the last output to the new target.
        assert_eq!(pid.state().unwrap().last_output, 5.0);
        let outcome = control(&settings, 10, None, NOW);
        assert_eq!(outcome.rate, 0.0);
        let state = outcome.state.unwrap();
        assert_eq!(state.p_term, -5.0);
        assert_eq!(state.last_output, 0.0);
        assert_eq!(state.last_input, 10.0);
        assert_ne!(state.i_term, 0.0001);
    }

    /// A state missing last_time → fresh controller; target 9, backlog 10 → p_term −1,
    /// i_term 0, rate 0.
    #[test]
    fn incomplete_state_starts_fresh() {
        let saved = r#"{"state": "running", "p_term": 990.0, "i_term": 0.0001,
            "d_term": 0.0, "last_input": 10, "last_output": 100}"#;
        let settings = load(&enabled(&[(keys::TARGET, "9"), (keys::STATE, saved)]))
            .settings
            .unwrap();
        assert!(settings.saved.is_none());
        let outcome = control(&settings, 10, None, NOW);
        assert_eq!(outcome.rate, 0.0);
        let state = outcome.state.unwrap();
        assert_eq!(state.p_term, -1.0);
        assert_eq!(state.i_term, 0.0);
        assert_eq!(state.d_term, 0.0);
        assert!(state.d_term.is_sign_negative());
        assert_eq!(state.last_input, 10.0);
        assert_eq!(state.last_output, 0.0);
    }

    #[test]
    fn other_states_start_fresh() {
        for text in [
            "{}",
            "not json",
            r#"{"state": "new"}"#,
            r#"{"state": "running", "p_term": null, "i_term": 0, "d_term": 0,
                "last_input": 0, "last_output": 0, "last_time": 0}"#,
        ] {
            assert_eq!(PidState::parse_running(text), None, "{text}");
        }
    }

    /// History 123 > max 100 → rate 0, purging 1, no state saved.
    #[test]
    fn long_history_turns_purging_on() {
        let settings = load(&enabled(&[(keys::TRX_MIN, "10"), (keys::TRX_MAX, "100")]))
            .settings
            .unwrap();
        let outcome = control(&settings, 0, Some(123), NOW);
        assert_eq!(outcome.rate, 0.0);
        assert!(outcome.purging);
        assert_eq!(outcome.state, None);
    }

    /// Purging with 123 > min 10 → stays on, rate 0.
    #[test]
    fn purging_continues_above_min() {
        let settings = load(&enabled(&[
            (keys::TRX_MIN, "10"),
            (keys::TRX_MAX, "200"),
            (keys::TRX_PURGING, "1"),
        ]))
        .settings
        .unwrap();
        let outcome = control(&settings, 0, Some(123), NOW);
        assert_eq!(outcome.rate, 0.0);
        assert!(outcome.purging);
        // Unknown history keeps the mode too.
        assert!(control(&settings, 0, None, NOW).purging);
    }

    /// Purging with 123 < min 124 → purging off, rate 100.
    #[test]
    fn purging_ends_below_min() {
        let settings = load(&enabled(&[
            (keys::TRX_MIN, "124"),
            (keys::TRX_MAX, "200"),
            (keys::TRX_PURGING, "1"),
        ]))
        .settings
        .unwrap();
        let outcome = control(&settings, 0, Some(123), NOW);
        assert_eq!(outcome.rate, 100.0);
        assert!(!outcome.purging);
        assert!(outcome.state.is_some());
    }

    #[test]
    fn purging_rule() {
        assert!(next_purging(false, Some(101), 10, 100));
        assert!(!next_purging(false, Some(100), 10, 100));
        assert!(next_purging(true, Some(10), 10, 100));
        assert!(!next_purging(true, Some(9), 10, 100));
        assert!(!next_purging(false, None, 10, 100));
        assert!(next_purging(true, None, 10, 100));
    }

    #[test]
    fn rate_from_output() {
        assert_eq!(sample_rate(1000.0, 1000), 100.0);
        assert_eq!(sample_rate(250.0, 1000), 25.0);
        assert_eq!(sample_rate(0.0, 1000), 0.0);
        assert_eq!(sample_rate(2000.0, 1000), 100.0);
        assert_eq!(sample_rate(f64::NAN, 1000), 100.0);
        assert_eq!(sample_rate(0.0, 0), 0.0, "no division by zero");
    }

    #[test]
    fn pid_matches_simple_pid() {
        let gains = Gains {
            kp: 1.0,
            ki: 0.1,
            kd: 2.0,
        };
        let mut pid = Pid::new(gains, 100, 0.0);
        // First call: no time passed, no derivative.
        let out = pid.update(40.0, 0.0);
        assert_eq!(pid.components().0, 60.0);
        assert!(pid.components().1 < 1e-12);
        assert_eq!(out, 60.0);
        // 10 s later, backlog up by 20.
        let out = pid.update(60.0, 10.0);
        let (p, i, d) = pid.components();
        assert_eq!(p, 40.0);
        assert!((i - 40.0).abs() < 1e-9, "{i}");
        assert_eq!(d, -4.0);
        assert!((out - 76.0).abs() < 1e-9, "{out}");
        // The integral is clamped to the output limits.
        let mut pid = Pid::new(
            Gains {
                kp: 0.0,
                ki: 10.0,
                kd: 0.0,
            },
            100,
            0.0,
        );
        pid.update(0.0, 0.0);
        assert_eq!(pid.update(0.0, 1000.0), 100.0);
        assert_eq!(pid.components().1, 100.0);
        // A clock that went backwards counts as no time passing.
        pid.update(200.0, 10.0);
        assert!(pid.components().1 <= 100.0 && pid.components().1 > 99.0);
    }

    #[test]
    fn resume_clamps_the_integral_and_output() {
        let saved = PidState {
            state: "running".into(),
            p_term: 5.0,
            i_term: 500.0,
            d_term: 1.0,
            last_output: -3.0,
            last_input: 7.0,
            last_time: NOW,
        };
        let pid = Pid::resume(
            Gains {
                kp: 1.0,
                ki: 0.0,
                kd: 0.0,
            },
            100,
            &saved,
        );
        let state = pid.state().unwrap();
        assert_eq!(state.i_term, 100.0);
        assert_eq!(state.last_output, 0.0);
        assert_eq!(state.p_term, 5.0);
        assert_eq!(state.last_input, 7.0);
    }

    #[test]
    fn state_json_round_trips_in_the_reference_field_order() {
        let mut pid = Pid::new(
            Gains {
                kp: 1.0,
                ki: 0.0,
                kd: 0.0,
            },
            1000,
            NOW,
        );
        pid.update(0.0, NOW);
        let state = pid.state().unwrap();
        let json = state.to_json().unwrap();
        assert!(
            json.starts_with(r#"{"state":"running","p_term":1000.0,"i_term":0.0,"d_term":-0.0,"last_output":1000.0,"last_input":0.0,"last_time":"#),
            "{json}"
        );
        assert_eq!(PidState::parse_running(&json), Some(state));
        assert!(Pid::new(pid.gains, 1, NOW).state().is_none());
    }

    #[test]
    fn rates_are_written_like_python_floats() {
        assert_eq!(rate_text(100.0), "100.0");
        assert_eq!(rate_text(0.0), "0.0");
        assert_eq!(rate_text(56.4), "56.4");
        assert_eq!(rate_text(100.0 / 3.0), "33.333333333333336");
    }
}
