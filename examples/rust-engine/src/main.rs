//! notes-db: the storage layer of a small notes application, on rusqlite.
//!
//! The CLI is what the harness's command adapter drives (see scenario.toml):
//!   notes-db migrations                      JSON array of {version, name, checksum, sql}
//!   notes-db migrate --db PATH [--to V]      apply pending migrations (up to V)
//!   notes-db diagnostics --db PATH           JSON self-report
//!   notes-db posture --db PATH               JSON of the pragmas in force on the app's connection
//! On failure it prints `error_code=<code> <message>` to stderr and exits 1.
//!
//! Each migration and its history row commit in one transaction, so a crash leaves whole
//! migrations only. NOTES_DB_BUG=split-history commits them separately (a planted bug the
//! harness's crash checks find).

use rusqlite::{params, Connection, OptionalExtension};
use std::process::exit;

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "notes", sql: include_str!("../migrations/0001_notes.sql") },
    Migration { version: 2, name: "tags", sql: include_str!("../migrations/0002_tags.sql") },
    Migration { version: 3, name: "pinned", sql: include_str!("../migrations/0003_pinned.sql") },
];

const HISTORY: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, \
    name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)";

struct Failure {
    code: &'static str,
    message: String,
}

fn fail<E: std::fmt::Display>(code: &'static str) -> impl Fn(E) -> Failure {
    move |e| Failure { code, message: e.to_string() }
}

/// FNV-1a over the SQL text, as 16 hex digits: the checksum the history records.
fn checksum(sql: &str) -> String {
    let mut hash: u64 = 0xcbf29ce484222325;
    for byte in sql.as_bytes() {
        hash ^= *byte as u64;
        hash = hash.wrapping_mul(0x100000001b3);
    }
    format!("{:016x}", hash)
}

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The connection the application uses: WAL, full foreign keys, a busy timeout.
fn connect(db: &str) -> Result<Connection, Failure> {
    let conn = Connection::open(db).map_err(fail("db_cantopen"))?;
    conn.busy_timeout(std::time::Duration::from_millis(5000)).map_err(fail("db_error"))?;
    conn.pragma_update(None, "journal_mode", "wal").map_err(fail("db_error"))?;
    conn.pragma_update(None, "synchronous", "normal").map_err(fail("db_error"))?;
    conn.pragma_update(None, "foreign_keys", true).map_err(fail("db_error"))?;
    Ok(conn)
}

fn applied(conn: &Connection) -> Result<Vec<(i64, String)>, Failure> {
    let exists: Option<String> = conn
        .query_row("SELECT name FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'", [],
                   |r| r.get(0))
        .optional()
        .map_err(fail("db_error"))?;
    if exists.is_none() {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare("SELECT version, checksum FROM schema_migrations ORDER BY version")
        .map_err(fail("db_error"))?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(fail("db_error"))?;
    rows.collect::<Result<Vec<_>, _>>().map_err(fail("db_error"))
}

/// Refuse a history this build cannot continue: unknown versions, gaps, edited migrations.
fn check_history(rows: &[(i64, String)]) -> Result<(), Failure> {
    for (i, (version, sum)) in rows.iter().enumerate() {
        let known = MIGRATIONS.iter().find(|m| m.version == *version).ok_or(Failure {
            code: "migration_unknown_version",
            message: format!("the database has migration {} which this build does not know", version),
        })?;
        if MIGRATIONS[i].version != *version {
            return Err(Failure { code: "migration_gap", message: format!("migration {} is missing",
                                                                         MIGRATIONS[i].version) });
        }
        if checksum(known.sql) != *sum {
            return Err(Failure { code: "migration_checksum_mismatch",
                                 message: format!("migration {} was edited after it was applied", version) });
        }
    }
    Ok(())
}

fn migrate(db: &str, to: Option<i64>) -> Result<(), Failure> {
    let mut conn = connect(db)?;
    conn.execute_batch(HISTORY).map_err(fail("db_error"))?;
    let rows = applied(&conn)?;
    check_history(&rows)?;
    if let Some(target) = to {
        if !MIGRATIONS.iter().any(|m| m.version == target) {
            return Err(Failure { code: "migration_target_invalid", message: format!("no migration {}", target) });
        }
    }
    let split = std::env::var("NOTES_DB_BUG").map(|v| v == "split-history").unwrap_or(false);
    for m in MIGRATIONS.iter().skip(rows.len()) {
        if to.map_or(false, |t| m.version > t) {
            break;
        }
        let tx = conn.transaction().map_err(fail("db_error"))?;
        tx.execute_batch(m.sql).map_err(|e| Failure { code: "migration_failed",
                                                      message: format!("{}: {}", m.name, e) })?;
        if split {
            tx.commit().map_err(fail("migration_failed"))?;
            record(&conn, m)?;
        } else {
            record(&tx, m)?;
            tx.commit().map_err(fail("migration_failed"))?;
        }
    }
    Ok(())
}

fn record(conn: &Connection, m: &Migration) -> Result<(), Failure> {
    conn.execute("INSERT INTO schema_migrations (version, name, checksum, applied_at) \
                  VALUES (?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
                 params![m.version, m.name, checksum(m.sql)])
        .map(|_| ())
        .map_err(fail("migration_failed"))
}

fn diagnostics(db: &str) -> Result<String, Failure> {
    let conn = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(fail("db_cantopen"))?;
    let rows = applied(&conn)?;
    let continuity = match check_history(&rows) {
        Ok(()) => "ok".to_string(),
        Err(f) => f.code.to_string(),
    };
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(fail("db_corrupt"))?;
    let mut stmt = conn.prepare("PRAGMA foreign_key_check").map_err(fail("db_error"))?;
    let violations = stmt.query_map([], |_| Ok(())).map_err(fail("db_error"))?.count();
    let version = rows.last().map_or("null".to_string(), |(v, _)| v.to_string());
    Ok(format!("{{\"schema_version\": {}, \"applied_migrations\": {}, \"expected_migrations\": {}, \
                \"continuity\": {}, \"integrity\": {}, \"foreign_key_violations\": {}}}",
               version, rows.len(), MIGRATIONS.len(), json_string(&continuity), json_string(&integrity),
               violations))
}

fn posture(db: &str) -> Result<String, Failure> {
    let conn = connect(db)?;
    let mut parts = Vec::new();
    for pragma in ["journal_mode", "synchronous", "foreign_keys", "busy_timeout"] {
        let value: rusqlite::types::Value = conn.query_row(&format!("PRAGMA {}", pragma), [], |r| r.get(0))
            .map_err(fail("db_error"))?;
        let text = match value {
            rusqlite::types::Value::Integer(i) => i.to_string(),
            rusqlite::types::Value::Text(t) => t,
            other => format!("{:?}", other),
        };
        parts.push(format!("{}: {}", json_string(pragma), json_string(&text)));
    }
    Ok(format!("{{{}}}", parts.join(", ")))
}

fn migrations_json() -> String {
    let items: Vec<String> = MIGRATIONS.iter().map(|m| format!(
        "{{\"version\": {}, \"name\": {}, \"checksum\": {}, \"sql\": {}, \"source\": {}}}",
        m.version, json_string(m.name), json_string(&checksum(m.sql)), json_string(m.sql),
        json_string(&format!("migrations/{:04}_{}.sql", m.version, m.name)))).collect();
    format!("[{}]", items.join(", "))
}

fn option(args: &[String], flag: &str) -> Option<String> {
    args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().map(String::as_str).unwrap_or("");
    let db = option(&args, "--db");
    let result = match (command, db.as_deref()) {
        ("migrations", _) => Ok(Some(migrations_json())),
        ("migrate", Some(db)) => {
            let to = option(&args, "--to").map(|v| v.parse::<i64>().unwrap_or(-1));
            migrate(db, to).map(|_| None)
        }
        ("diagnostics", Some(db)) => diagnostics(db).map(Some),
        ("posture", Some(db)) => posture(db).map(Some),
        _ => Err(Failure { code: "usage", message: "usage: notes-db migrations | migrate|diagnostics|posture \
                                                   --db PATH [--to V]".to_string() }),
    };
    match result {
        Ok(Some(output)) => println!("{}", output),
        Ok(None) => {}
        Err(f) => {
            eprintln!("error_code={} {}", f.code, f.message);
            exit(1);
        }
    }
}
