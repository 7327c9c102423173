//! `takedown quarantine ...`: look into the vault, restore, export, delete.

use crate::args::{Format, QuarantineArgs, QuarantineCommand};
use anyhow::Context;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use takedown_engine::sanitize::for_terminal;
use takedown_vault::export::Encryption;
use takedown_vault::item::Meta;
use takedown_vault::{Error, Vault};

/// The vault named by `--vault`/`TAKEDOWN_VAULT`, or the default one.
pub fn vault_dir(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    given.or_else(takedown_vault::default_dir).context(
        "no vault directory: give --vault DIR (or TAKEDOWN_VAULT); neither HOME nor XDG_DATA_HOME is set",
    )
}

/// Every command starts by finishing what an interrupted one left in the
/// vault; this says what it did.
pub fn recover(dir: &std::path::Path) {
    match Vault::recover_if_needed(dir) {
        Ok(done) => report_recovered(done),
        Err(e) => eprintln!("takedown: warning: vault {}: {e}", dir.display()),
    }
}

/// Says on stderr what opening the vault finished or rolled back.
pub fn report_recovered(entries: Vec<takedown_vault::LogEntry>) {
    for e in entries {
        eprintln!(
            "takedown: vault: recovered an interrupted {} of {} ({}): {}",
            e.action,
            for_terminal(e.path.as_deref().or(e.vault_id.as_deref()).unwrap_or("?")),
            e.status,
            for_terminal(e.reason.as_deref().unwrap_or(""))
        );
    }
}

pub fn run(a: QuarantineArgs) -> anyhow::Result<u8> {
    let dir = vault_dir(a.vault)?;
    if matches!(
        a.command,
        QuarantineCommand::List | QuarantineCommand::Log { run: None }
    ) && std::fs::symlink_metadata(&dir).is_err()
    {
        // Nothing was ever quarantined here: an empty list, said once.
        eprintln!(
            "takedown: the vault {} does not exist yet: nothing was quarantined",
            dir.display()
        );
        return Ok(0);
    }
    let mut vault = Vault::open(&dir, false)?;
    report_recovered(vault.take_recovered());
    let json = a.format == Format::Json;
    let mut out = std::io::stdout().lock();
    match a.command {
        QuarantineCommand::List => {
            for item in vault.list()? {
                match item {
                    Ok(m) if json => writeln!(out, "{}", serde_json::to_string(&m)?)?,
                    Ok(m) => writeln!(out, "{}", list_line(&m))?,
                    Err(e) => eprintln!("takedown: warning: {e}"),
                }
            }
        }
        QuarantineCommand::Show { id } => {
            let m = vault.meta(&id)?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&m)?)?;
            } else {
                show(&mut out, &m)?;
            }
        }
        QuarantineCommand::Restore { id, to, overwrite } => {
            let r = vault.restore(&id, to.as_deref(), overwrite)?;
            if json {
                let v = serde_json::json!({
                    "id": id, "path": r.path.to_string_lossy(), "sha256": r.sha256, "notes": r.notes,
                });
                writeln!(out, "{v}")?;
            } else {
                writeln!(
                    out,
                    "{}: restored from vault item {id} (SHA-256 {} verified)",
                    takedown_engine::sanitize::path_for_terminal(&r.path),
                    r.sha256
                )?;
                for n in &r.notes {
                    eprintln!("takedown: note: {}", for_terminal(n));
                }
            }
        }
        QuarantineCommand::Delete { id, yes } => {
            let m = vault.meta(&id)?;
            if !yes
                && !ask(&format!(
                    "Delete vault item {id} ({}) for good?",
                    m.original_path
                ))?
            {
                anyhow::bail!("not confirmed; item {id} kept");
            }
            vault.purge(&id)?;
            if !json {
                writeln!(out, "vault item {id} deleted")?;
            }
        }
        QuarantineCommand::Export { id, to, aes } => {
            let enc = if aes {
                Encryption::Aes256
            } else {
                Encryption::ZipCrypto
            };
            vault.export(&id, &to, enc)?;
            if !json {
                writeln!(
                    out,
                    "{}: vault item {id}, zip with password '{}'",
                    takedown_engine::sanitize::path_for_terminal(&to),
                    takedown_vault::export::PASSWORD
                )?;
            }
        }
        QuarantineCommand::Log { run: None } => {
            for (id, path) in vault.runs()? {
                if json {
                    writeln!(
                        out,
                        "{}",
                        serde_json::json!({"run": id, "log": path.to_string_lossy()})
                    )?;
                } else {
                    writeln!(out, "{id}")?;
                }
            }
        }
        QuarantineCommand::Log { run: Some(run) } => {
            let Some((_, path)) = vault.runs()?.into_iter().find(|(id, _)| *id == run) else {
                return Err(Error::Refused(format!("no run {run} in the vault's logs")).into());
            };
            let text =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            if json {
                out.write_all(&text)?;
            } else {
                for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    writeln!(out, "{}", log_line(line))?;
                }
            }
        }
    }
    Ok(0)
}

fn list_line(m: &Meta) -> String {
    let names: Vec<&str> = m
        .detections
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["name"].as_str())
        .collect();
    format!(
        "{}  {}  {} bytes  {}  [{}]{}",
        m.id,
        m.quarantined_at,
        m.size,
        for_terminal(&m.original_path),
        for_terminal(&names.join(", ")),
        if m.restores.is_empty() {
            ""
        } else {
            "  (restored)"
        }
    )
}

fn show(out: &mut dyn Write, m: &Meta) -> std::io::Result<()> {
    let ts = |t: &takedown_vault::item::Timestamp| format!("{}.{:09}", t.sec, t.nsec);
    writeln!(out, "ID:             {}", m.id)?;
    writeln!(out, "Original path:  {}", for_terminal(&m.original_path))?;
    writeln!(out, "Size:           {} bytes", m.size)?;
    writeln!(out, "SHA-256:        {}", m.sha256)?;
    writeln!(
        out,
        "Owner:          {} ({}), group {} ({})",
        m.uid,
        m.owner.as_deref().map(for_terminal).unwrap_or_default(),
        m.gid,
        m.group.as_deref().map(for_terminal).unwrap_or_default()
    )?;
    writeln!(out, "Mode:           {:04o}", m.mode)?;
    writeln!(out, "Modified:       {}", ts(&m.mtime))?;
    writeln!(out, "Accessed:       {}", ts(&m.atime))?;
    writeln!(
        out,
        "Quarantined:    {} by {} (run {})",
        m.quarantined_at, m.by, m.run
    )?;
    for d in m.detections.as_array().into_iter().flatten() {
        let chain = d["chain"]
            .as_array()
            .map(|c| {
                c.iter()
                    .filter_map(|x| x.as_str())
                    .map(for_terminal)
                    .collect::<Vec<_>>()
                    .join("!")
            })
            .map(|c| format!(" in {c}"))
            .unwrap_or_default();
        writeln!(
            out,
            "Detection:      {} ({}, score {}){}",
            for_terminal(d["name"].as_str().unwrap_or("?")),
            d["engine"].as_str().unwrap_or("?"),
            d["score"],
            chain
        )?;
    }
    for r in &m.restores {
        writeln!(out, "Restored:       {} to {}", r.at, for_terminal(&r.to))?;
    }
    Ok(())
}

fn log_line(line: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else {
        return "(unreadable line)".into();
    };
    if let Some(run) = v["run"].as_str() {
        return format!(
            "run {run} started {} by {}",
            v["started"].as_str().unwrap_or("?"),
            v["by"].as_str().unwrap_or("?")
        );
    }
    let s = |k: &str| v[k].as_str().map(for_terminal).unwrap_or_default();
    let mut out = format!(
        "{}  {} {}  {}",
        s("time"),
        s("action"),
        s("status"),
        s("path")
    );
    if let Some(id) = v["vault_id"].as_str() {
        out.push_str(&format!("  -> {id}"));
    }
    if let Some(r) = v["reason"].as_str() {
        out.push_str(&format!("  ({})", for_terminal(r)));
    }
    out
}

/// Yes/no on the terminal; an error when there is none.
fn ask(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("{question}: no terminal to ask on; use --yes");
    }
    eprint!("{} [y/N] ", for_terminal(question));
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "Yes" | "YES"))
}
