//! What an integrator would feed from the product and the help desk: monthly usage figures per
//! account, a critical ticket for the unhappy client, late payments for the one drifting away.
//! They go through the same signal vocabulary and storage as `touchbot signal add`.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::AccountId;
use crate::inbound::signal_store;
use crate::inbound::signals::{RawSignal, parse_signal};

/// An account's product figures for month `m` of the demo (0 = the first).
struct Usage {
    licences: f64,
    active_users: f64,
    login_days: f64,
    adoption: f64,
}

fn usage(account: &str, m: u32) -> Usage {
    let m = f64::from(m);
    match account {
        "Northwind Logistics" => Usage {
            licences: 50.0,
            active_users: (38.0 + m).min(48.0),
            login_days: 24.0,
            adoption: (0.5 + 0.03 * m).min(0.8),
        },
        "Bluefin Analytics" => Usage {
            licences: 40.0,
            active_users: 26.0,
            login_days: 16.0,
            adoption: 0.5,
        },
        "Cedar Health" => Usage {
            licences: 30.0,
            active_users: (16.0 - m).max(8.0),
            login_days: 10.0,
            adoption: 0.3,
        },
        "Quill & Co" => Usage {
            licences: 10.0,
            active_users: (7.0 - m).max(1.0),
            login_days: (18.0 - 3.0 * m).max(2.0),
            adoption: 0.2,
        },
        _ => Usage {
            licences: 20.0,
            active_users: (9.0 - m).max(3.0),
            login_days: (12.0 - 2.0 * m).max(2.0),
            adoption: 0.25,
        },
    }
}

fn raw(kind: &str, value: Option<f64>, at: DateTime<Utc>) -> RawSignal {
    RawSignal {
        kind: kind.into(),
        value,
        ticket: None,
        severity: None,
        csat: None,
        competitor: None,
        contact: None,
        occurred_at: at,
        key: None,
    }
}

/// Feeds month `m`'s figures for every account, as a nightly CRM sync would.
pub async fn feed_month(
    pool: &PgPool,
    accounts: &[(AccountId, String, String)],
    m: u32,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    for (id, name, _) in accounts {
        let u = usage(name, m);
        let mut signals = vec![
            raw("licences", Some(u.licences), at),
            raw("active_users", Some(u.active_users), at),
            raw("login_days_30", Some(u.login_days), at),
            raw("feature_adoption", Some(u.adoption), at),
        ];
        match (name.as_str(), m) {
            ("Cedar Health", 1) => {
                let mut t = raw("ticket_opened", None, at);
                t.ticket = Some("CH-1042".into());
                t.severity = Some("critical".into());
                signals.push(t);
            }
            ("Orbit Retail", _) => signals.push(raw("payment_late", None, at)),
            (_, _) => signals.push(raw("payment_on_time", None, at)),
        }
        for s in signals {
            let signal = parse_signal(*id, &s).map_err(|e| anyhow::anyhow!("{e}"))?;
            signal_store::store(pool, &signal, "demo-crm").await?;
        }
    }
    Ok(())
}
