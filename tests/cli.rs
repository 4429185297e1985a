//! The `touchbot` binary, end to end: each test runs the built program against its own fresh
//! database and reads what a user would read on the terminal.

mod fixtures;

use std::path::PathBuf;
use std::process::Command;

use chrono::{Duration, Utc};
use fixtures::count;
use sqlx::PgPool;

/// What one run of the program left on the terminal.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The program, pointed at the test's database.
struct Touchbot {
    url: String,
}

impl Touchbot {
    fn new(pool: &PgPool) -> Touchbot {
        let db = pool
            .connect_options()
            .get_database()
            .expect("the test database has a name")
            .to_string();
        Touchbot {
            url: format!("postgres://postgres@127.0.0.1:5432/{db}"),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_touchbot"))
            .args(args)
            .env("DATABASE_URL", &self.url)
            .env_remove("TOUCHBOT_CONFIG")
            .env_remove("TOUCHBOT_LOG")
            .output()
            .expect("the touchbot binary runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs a command that must succeed and returns its output.
    fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert_eq!(run.code, 0, "touchbot {args:?} failed:\n{run:?}");
        run.stdout
    }

    /// Runs a command that must be refused as a user error (exit code 2) and returns stderr.
    fn refused(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert_eq!(run.code, 2, "touchbot {args:?}:\n{run:?}");
        run.stderr
    }
}

/// A file in the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str, text: &str) -> TempFile {
        let path = std::env::temp_dir().join(format!("touchbot-cli-{tag}-{}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        TempFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn today() -> String {
    Utc::now().date_naive().to_string()
}

fn in_a_year() -> String {
    (Utc::now().date_naive() + Duration::days(365)).to_string()
}

/// A CSM, an account and a contact, added the way the README shows.
fn northwind(bot: &Touchbot) {
    let out = bot.ok(&[
        "staff",
        "add",
        "--name",
        "Aigerim Sadykova",
        "--role",
        "csm",
        "--telegram-id",
        "123456789",
    ]);
    assert_eq!(out, "Added Aigerim Sadykova (csm) as staff 1.\n");
    let out = bot.ok(&[
        "account",
        "add",
        "--name",
        "Northwind",
        "--segment",
        "enterprise",
        "--arr",
        "180k",
        "--start",
        &today(),
        "--renewal",
        &in_a_year(),
        "--csm",
        "aigerim",
        "--tz",
        "Asia/Almaty",
        "--locale",
        "ru",
    ]);
    assert!(out.starts_with("Added account Northwind (id 1); "), "{out}");
    assert!(
        out.contains("Add its contacts with 'touchbot contact add --account 1'"),
        "{out}"
    );
    let out = bot.ok(&[
        "contact",
        "add",
        "--account",
        "north",
        "--name",
        "Dana",
        "--role",
        "champion",
        "--channel",
        "whatsapp",
        "--address",
        "+7 701 123-45-67",
    ]);
    assert_eq!(out, "Added Dana (contact 1) to Northwind as champion.\n");
}

#[sqlx::test]
async fn an_account_added_on_the_command_line_shows_in_the_list_the_calendar_and_the_status(
    pool: PgPool,
) {
    let bot = Touchbot::new(&pool);
    northwind(&bot);

    let list: serde_json::Value =
        serde_json::from_str(&bot.ok(&["account", "list", "--json"])).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    let a = &list[0];
    assert_eq!(a["id"], 1);
    assert_eq!(a["name"], "Northwind");
    assert_eq!(a["segment"], "enterprise");
    assert_eq!(a["arr_cents"], 18_000_000);
    assert_eq!(a["contract_start"], today());
    assert_eq!(a["renewal_date"], in_a_year());
    assert_eq!(a["csm_id"], 1);
    assert_eq!(a["time_zone"], "Asia/Almaty");
    assert_eq!(a["locale"], "ru");
    assert_eq!(a["lifecycle"], "active");

    let show = bot.ok(&["account", "show", "NORTH"]);
    for line in [
        "Northwind (id 1)",
        "  segment:   enterprise",
        "  ARR:       180,000",
        "  CSM:       Aigerim Sadykova",
        "  time zone: Asia/Almaty",
        "  language:  ru",
    ] {
        assert!(show.contains(line), "missing {line:?} in\n{show}");
    }
    assert!(
        show.contains("Dana") && show.contains("77011234567"),
        "{show}"
    );

    let preview = bot.ok(&["calendar", "preview", "--account", "wind"]);
    assert!(
        preview.starts_with(&format!(
            "Calendar of Northwind (enterprise, day 0 {}, renewal {}):",
            today(),
            in_a_year()
        )),
        "{preview}"
    );
    let lines: Vec<&str> = preview.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("welcome") && l.contains("Dana (champion)")),
        "{preview}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" nps ") && l.contains("nps-30") && l.contains("Asia/Almaty")),
        "{preview}"
    );
    assert!(
        lines.iter().any(|l| l.contains("task-renewal-7")
            && l.contains("Aigerim Sadykova (CSM, internal)")),
        "{preview}"
    );
    // What the preview shows is what the outbox holds.
    let planned: i64 = sqlx::query_scalar("select count(*) from touches where status = 'planned'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(planned > 20, "{planned}");

    let status = bot.ok(&["status"]);
    assert!(status.contains(": 1 account (1 active)\n"), "{status}");
    assert!(
        status.contains("NPS, last 90 days: no answers yet"),
        "{status}"
    );
    assert!(status.contains("single-threaded"), "{status}");
    let one = bot.ok(&["status", "northwind"]);
    assert!(one.starts_with("Northwind (enterprise, active)\n"), "{one}");
    assert!(one.contains("  CSM:            Aigerim Sadykova"), "{one}");
}

#[sqlx::test]
async fn an_unknown_segment_is_refused_with_the_segments_that_exist(pool: PgPool) {
    let bot = Touchbot::new(&pool);
    let err = bot.refused(&[
        "account",
        "add",
        "--name",
        "Globex",
        "--segment",
        "gold",
        "--start",
        "2026-03-02",
    ]);
    assert!(
        err.contains("'gold' is not a segment; use one of: enterprise, mid_market, smb"),
        "{err}"
    );
    assert_eq!(count(&pool, "accounts").await, 0);
}

#[sqlx::test]
async fn a_date_in_another_format_is_refused_with_the_format_to_use(pool: PgPool) {
    let bot = Touchbot::new(&pool);
    let err = bot.refused(&[
        "account",
        "add",
        "--name",
        "Globex",
        "--segment",
        "smb",
        "--start",
        "03/02/2026",
    ]);
    assert!(
        err.contains("'03/02/2026' is not a date; write it as YYYY-MM-DD"),
        "{err}"
    );
    assert_eq!(count(&pool, "accounts").await, 0);
}

#[sqlx::test]
async fn a_contact_for_an_unknown_account_is_refused_and_says_how_to_list_them(pool: PgPool) {
    let bot = Touchbot::new(&pool);
    let err = bot.refused(&[
        "contact",
        "add",
        "--account",
        "globex",
        "--name",
        "Dana",
        "--role",
        "champion",
        "--channel",
        "whatsapp",
        "--address",
        "+77011234567",
    ]);
    assert_eq!(
        err,
        "error: no account matches 'globex'; 'touchbot account list' shows them all\n"
    );
    assert_eq!(count(&pool, "contacts").await, 0);
}

#[sqlx::test]
async fn a_whatsapp_number_without_its_country_code_is_refused_with_the_form_to_use(pool: PgPool) {
    let bot = Touchbot::new(&pool);
    northwind(&bot);
    let add = |number: &'static str| {
        [
            "contact",
            "add",
            "--account",
            "northwind",
            "--name",
            "Ivan",
            "--role",
            "user",
            "--channel",
            "whatsapp",
            "--address",
            number,
        ]
    };

    let local = bot.refused(&add("8 701 123 45 67"));
    let prefixed = bot.refused(&add("00 7 701 123 45 67"));
    bot.ok(&add("+7 (701) 765-43-21"));

    assert!(local.contains("has no country code"), "{local}");
    assert!(local.contains("e.g. +77011234567"), "{local}");
    assert!(prefixed.contains("dialling prefix 00"), "{prefixed}");
    let stored = sqlx::query_scalar!("select address from contacts where name = 'Ivan'")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(stored, vec![Some("+77017654321".to_string())]);
}

#[sqlx::test]
async fn values_the_storage_refuses_exit_2_and_store_nothing(pool: PgPool) {
    let bot = Touchbot::new(&pool);
    northwind(&bot);
    let touches = count(&pool, "touches").await;

    let err = bot.refused(&[
        "account",
        "add",
        "--name",
        "Globex",
        "--segment",
        "smb",
        "--start",
        "2026-03-02",
        "--tz",
        "Almaty",
    ]);
    assert!(err.contains("'Almaty' is not a known time zone"), "{err}");
    let err = bot.refused(&[
        "account",
        "add",
        "--name",
        "northwind",
        "--segment",
        "smb",
        "--start",
        "2026-03-02",
    ]);
    assert_eq!(err, "error: an account named 'northwind' already exists\n");
    let err = bot.refused(&[
        "contact",
        "add",
        "--account",
        "northwind",
        "--name",
        "Ivan",
        "--role",
        "user",
        "--channel",
        "whatsapp",
        "--address",
        "12345",
    ]);
    assert!(err.contains("e.g. +77011234567"), "{err}");
    let err = bot.refused(&[
        "account",
        "add",
        "--name",
        "Globex",
        "--segment",
        "smb",
        "--start",
        "2026-03-02",
        "--csm",
        "zhanna",
    ]);
    assert!(err.contains("no staff member matches 'zhanna'"), "{err}");

    assert_eq!(count(&pool, "accounts").await, 1);
    assert_eq!(count(&pool, "contacts").await, 1);
    assert_eq!(count(&pool, "touches").await, touches);
}

#[sqlx::test]
async fn an_import_reports_refused_rows_and_a_missing_file_exits_2(pool: PgPool) {
    let bot = Touchbot::new(&pool);
    let csv = TempFile::new(
        "import.csv",
        "name,segment,start\nAcme,smb,2026-03-02\nGlobex,gold,2026-03-02\n",
    );
    let out = bot.ok(&["import", csv.path()]);
    assert_eq!(
        out,
        "Imported 1 accounts.\nRefused 1 rows:\n  line 3: 'gold' is not a segment; use one of: enterprise, mid_market, smb\n"
    );
    let err = bot.refused(&["import", "/nonexistent/accounts.csv"]);
    assert!(
        err.starts_with("error: cannot open /nonexistent/accounts.csv: "),
        "{err}"
    );
    assert_eq!(count(&pool, "accounts").await, 1);
}

#[sqlx::test]
async fn the_default_configuration_passes_its_own_check(pool: PgPool) {
    let bot = Touchbot::new(&pool);
    let text = bot.ok(&["config", "default"]);
    assert!(text.contains("[calendar]"), "{text}");
    assert!(text.contains("[[calendar.rules]]"), "{text}");
    let file = TempFile::new("default.toml", &text);
    let out = bot.ok(&["config", "check", "--config", file.path()]);
    assert_eq!(out, "The configuration is valid.\n");
}

#[sqlx::test]
async fn a_misspelt_key_in_the_configuration_names_the_file_and_the_line(pool: PgPool) {
    let bot = Touchbot::new(&pool);
    let file = TempFile::new(
        "typo.toml",
        "[server]\nport = 8080\n\n[dispatcher]\nworkerz = 4\n",
    );
    let err = bot.refused(&["config", "check", "--config", file.path()]);
    assert!(err.contains(file.path()), "{err}");
    assert!(err.contains("line 5"), "{err}");
    assert!(err.contains("workerz"), "{err}");

    // The same file stops every other command before it touches the database.
    let err = bot.refused(&["--config", file.path(), "account", "list"]);
    assert!(err.contains("workerz"), "{err}");
}

#[sqlx::test]
async fn a_calendar_setting_out_of_range_names_the_line_and_what_to_change(pool: PgPool) {
    let bot = Touchbot::new(&pool);
    let file = TempFile::new(
        "window.toml",
        "[calendar]\ngrace_days = 3\n\n[calendar.send_window]\nstart = \"19:00\"\nend = \"10:00\"\n",
    );
    let err = bot.refused(&["config", "check", "--config", file.path()]);
    assert!(err.contains(&format!("{}:", file.path())), "{err}");
    assert!(err.contains("send_window"), "{err}");
}

#[sqlx::test]
async fn help_lists_the_commands(pool: PgPool) {
    let bot = Touchbot::new(&pool);
    let help = bot.ok(&["--help"]);
    for command in [
        "migrate", "serve", "demo", "config", "account", "contact", "staff", "calendar", "import",
        "status",
    ] {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{command} "))),
            "{command} missing from\n{help}"
        );
    }
}

#[sqlx::test]
async fn pausing_an_account_and_removing_a_contact_stop_their_planned_touches(pool: PgPool) {
    let bot = Touchbot::new(&pool);
    northwind(&bot);
    let err = bot.refused(&["account", "update", "northwind", "--state", "frozen"]);
    assert!(
        err.contains("'frozen' is not an account state; use one of: active, paused, churned"),
        "{err}"
    );

    let out = bot.ok(&["contact", "remove", "--account", "northwind", "1"]);
    assert_eq!(out, "Removed contact 1 from Northwind.\n");
    let for_dana: i64 = sqlx::query_scalar(
        "select count(*) from touches where contact_id = 1 and status = 'planned'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(for_dana, 0);
    let listed = bot.ok(&["contact", "list", "--account", "northwind", "--json"]);
    assert_eq!(listed.trim(), "[]");

    let out = bot.ok(&["account", "update", "northwind", "--state", "paused"]);
    assert_eq!(
        out,
        "Updated account Northwind (id 1); 0 touches planned ahead.\n"
    );
    let planned: i64 = sqlx::query_scalar("select count(*) from touches where status = 'planned'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(planned, 0);
    let preview = bot.ok(&["calendar", "preview", "--account", "northwind"]);
    assert!(preview.contains("(nothing planned)"), "{preview}");
}

#[sqlx::test]
async fn clearing_the_renewal_date_cancels_the_renewal_touches(pool: PgPool) {
    let bot = Touchbot::new(&pool);
    northwind(&bot);
    let before = bot.ok(&["calendar", "preview", "--account", "north"]);
    assert!(before.contains("renewal-7"), "{before}");
    bot.ok(&["account", "update", "northwind", "--clear-renewal"]);
    let shown: serde_json::Value =
        serde_json::from_str(&bot.ok(&["account", "show", "northwind", "--json"])).unwrap();
    assert!(shown["account"]["renewal_date"].is_null(), "{shown}");
    let after = bot.ok(&["calendar", "preview", "--account", "north"]);
    assert!(!after.contains("renewal-7"), "{after}");
    let refused = bot.refused(&[
        "account",
        "update",
        "northwind",
        "--clear-renewal",
        "--renewal",
        "2030-01-01",
    ]);
    assert!(refused.contains("cannot be used with"), "{refused}");
}

#[sqlx::test]
async fn a_recorded_departure_escalates_and_is_taken_and_resolved_on_the_command_line(
    pool: PgPool,
) {
    let bot = Touchbot::new(&pool);
    northwind(&bot);

    let out = bot.ok(&[
        "signal",
        "add",
        "--account",
        "north",
        "--kind",
        "sponsor_left",
    ]);
    // The departure, and the health it drags into the red.
    assert!(out.contains("Escalations: 2 opened"), "{out}");
    let list = bot.ok(&["escalation", "list"]);
    assert!(list.contains("Executive sponsor left"), "{list}");
    assert!(list.contains("Aigerim Sadykova"), "{list}");
    assert!(list.contains("day 1"), "{list}");

    let out = bot.ok(&["escalation", "ack", "2", "--by", "aigerim"]);
    assert!(out.contains("taken by Aigerim Sadykova"), "{out}");
    let err = bot.refused(&[
        "escalation",
        "resolve",
        "2",
        "--by",
        "aigerim",
        "--outcome",
        "churned",
    ]);
    assert!(err.contains("say why the account churned"), "{err}");
    let err = bot.refused(&[
        "escalation",
        "resolve",
        "7",
        "--by",
        "aigerim",
        "--outcome",
        "saved",
    ]);
    assert!(err.contains("no escalation #7"), "{err}");
    let out = bot.ok(&[
        "escalation",
        "resolve",
        "2",
        "--by",
        "aigerim",
        "--outcome",
        "churned:competitor:RivalSoft",
    ]);
    assert!(
        out.contains("resolved by Aigerim Sadykova as churned:competitor:RivalSoft"),
        "{out}"
    );
    assert!(out.contains("Northwind is now marked churned"), "{out}");

    // The churned account's other escalation (its red health) is closed with it.
    let open = bot.ok(&["escalation", "list"]);
    assert!(open.contains("no open escalations"), "{open}");
    let shown = bot.ok(&["escalation", "show", "2"]);
    for kind in ["opened", "acknowledged", "resolved"] {
        assert!(
            shown.contains(kind),
            "{kind} missing from the history:\n{shown}"
        );
    }
}

#[sqlx::test]
async fn a_telegram_contact_gets_a_join_link_and_a_fresh_one_replaces_it(pool: PgPool) {
    let bot = Touchbot::new(&pool);
    northwind(&bot);
    let config = TempFile::new("tg", "[telegram]\nbot_username = \"acme_cs_bot\"\n");
    let add = [
        "--config",
        config.path(),
        "contact",
        "add",
        "--account",
        "northwind",
        "--name",
        "Lee Park",
        "--role",
        "user",
    ];
    let out = bot.ok(&add);
    let link = |out: &str| {
        out.lines()
            .find(|l| l.starts_with("https://t.me/acme_cs_bot?start="))
            .unwrap_or_else(|| panic!("no join link in:\n{out}"))
            .to_string()
    };
    let first = link(&out);
    assert!(out.contains("it works once, until"), "{out}");

    let out = bot.ok(&[
        "--config",
        config.path(),
        "contact",
        "invite",
        "--account",
        "northwind",
        "lee",
    ]);
    let second = link(&out);

    assert_ne!(first, second);
    let live = sqlx::query_scalar!(
        r#"select count(*) as "n!" from contact_invites where revoked_at is null"#
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(live, 1, "the older link stops working");

    let without_username = bot.refused(&["contact", "invite", "--account", "northwind", "lee"]);
    assert!(
        without_username.contains("bot_username"),
        "{without_username}"
    );
}

/// What the contact wrote, stored as the WhatsApp webhook would store it.
async fn whatsapp_says(pool: &PgPool, id: &str, body: &str, at: chrono::DateTime<Utc>) {
    use touchbot::domain::ChannelKind;
    use touchbot::inbound::{InboundContent, InboundMessage, record_reply};
    let message = InboundMessage {
        channel: ChannelKind::Whatsapp,
        address: "+77011234567".to_string(),
        provider_message_id: id.to_string(),
        content: InboundContent::text(body),
        received_at: at,
    };
    record_reply(pool, &message).await.unwrap();
}

#[sqlx::test]
async fn a_contacts_consent_shows_what_they_get_now_and_each_change_with_its_source(pool: PgPool) {
    let bot = Touchbot::new(&pool);
    northwind(&bot);
    let out = bot.ok(&["contact", "consent", "1"]);
    assert!(out.contains("No changes"), "{out}");

    let stopped = Utc::now() - Duration::days(3);
    whatsapp_says(&pool, "wamid.1", "СТОП", stopped).await;
    whatsapp_says(&pool, "wamid.2", "stop", stopped + Duration::hours(1)).await;
    let out = bot.ok(&["contact", "consent", "1"]);
    let survey = out.lines().find(|l| l.contains("survey")).unwrap();
    assert!(survey.contains("opted out"), "{out}");
    assert!(survey.contains("reply:whatsapp"), "{out}");
    let renewal = out.lines().find(|l| l.contains("renewal")).unwrap();
    assert!(renewal.contains("receives"), "{out}");
    let history = out.split("History, oldest first:").nth(1).unwrap();
    assert_eq!(
        history.matches("opted out").count(),
        2,
        "a second stop changes nothing: one change per category\n{out}"
    );

    whatsapp_says(&pool, "wamid.3", "старт", Utc::now() - Duration::days(1)).await;
    let out = bot.ok(&["contact", "consent", "1"]);
    let survey = out.lines().find(|l| l.contains("survey")).unwrap();
    assert!(survey.contains("receives"), "{out}");
    let history: Vec<&str> = out
        .split("History, oldest first:")
        .nth(1)
        .unwrap()
        .lines()
        .filter(|l| l.contains("reply:whatsapp"))
        .collect();
    assert_eq!(history.len(), 4, "{out}");
    assert!(history[0].contains("opted out"), "{out}");
    assert!(
        history[3].contains("opted in"),
        "the newest is last:\n{out}"
    );
}

#[sqlx::test]
async fn the_consent_of_an_unknown_contact_is_refused_and_says_where_the_ids_are(pool: PgPool) {
    let bot = Touchbot::new(&pool);
    northwind(&bot);

    let err = bot.refused(&["contact", "consent", "42"]);

    assert!(err.contains("no contact matches '42'"), "{err}");
    assert!(err.contains("touchbot contact list --account"), "{err}");
}
