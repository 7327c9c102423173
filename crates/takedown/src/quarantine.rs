//! `takedown quarantine ...`: look into the vault, restore, export, delete.
//!
//! An item is a quarantined file, or the original content of a file whose
//! content takedown replaced (an autostart entry disabled in place). An
//! item may go with another (an entry's change with the program it
//! started): restoring the program restores what goes with it.

use crate::args::{Format, QuarantineArgs, QuarantineCommand};
use anyhow::Context;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use takedown_engine::sanitize::for_terminal;
use takedown_vault::export::Encryption;
use takedown_vault::item::{Kind, Meta};
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
            let with_it = vault.linked(&id)?;
            if json {
                let mut v = serde_json::to_value(&m)?;
                v["linked_items"] = serde_json::json!(with_it);
                writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
            } else {
                show(&mut out, &m, &with_it)?;
            }
        }
        QuarantineCommand::Restore {
            id,
            to,
            overwrite,
            only,
        } => return restore(&mut vault, &mut out, json, &id, to, overwrite, only),
        QuarantineCommand::Delete { id, yes } => {
            let m = vault.meta(&id)?;
            let what = match m.kind {
                Kind::File => m.original_path.clone(),
                Kind::Replaced => format!(
                    "the original content of {}; the file keeps the content takedown wrote",
                    m.original_path
                ),
            };
            if !yes && !ask(&format!("Delete vault item {id} ({what}) for good?"))? {
                anyhow::bail!("not confirmed; item {id} kept");
            }
            let with_it = vault.linked(&id)?;
            vault.purge(&id)?;
            if !json {
                writeln!(out, "vault item {id} deleted")?;
            }
            if !with_it.is_empty() {
                eprintln!(
                    "takedown: note: the items that went with it stay in the vault: {}",
                    with_it.join(", ")
                );
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

/// `restore ID`: the item, then (unless `only`) each item that goes with
/// it, to its own path. A refusal of the first stops there; a refusal of
/// one that goes with it is reported and the others are still restored
/// (exit status 2 then).
fn restore(
    vault: &mut Vault,
    out: &mut dyn Write,
    json: bool,
    id: &str,
    to: Option<PathBuf>,
    overwrite: bool,
    only: bool,
) -> anyhow::Result<u8> {
    let meta = vault.meta(id)?;
    let with_it = if only { Vec::new() } else { vault.linked(id)? };
    let r = vault.restore(id, to.as_deref(), overwrite).map_err(|e| {
        if with_it.is_empty() {
            anyhow::Error::from(e)
        } else {
            anyhow::anyhow!(
                "{e}; the {} item(s) that go with it were not restored either",
                with_it.len()
            )
        }
    })?;
    report_restore(out, json, id, &meta, &r, None)?;
    let mut failed = false;
    for other in &with_it {
        // Each goes back to its own path, and only over what takedown
        // left there: --to and --overwrite were said of the first item.
        let done = vault
            .meta(other)
            .and_then(|m| vault.restore(other, None, false).map(|r| (m, r)));
        match done {
            Ok((m, r)) => report_restore(out, json, other, &m, &r, Some(id))?,
            Err(e) => {
                failed = true;
                if json {
                    let v = serde_json::json!({"id": other, "linked": id, "error": e.to_string()});
                    writeln!(out, "{v}")?;
                }
                eprintln!(
                    "takedown: error: vault item {other} (goes with {id}): {}",
                    for_terminal(&e.to_string())
                );
            }
        }
    }
    if let Some(program) = &meta.linked
        && !json
        && vault.meta(program).is_ok()
    {
        eprintln!(
            "takedown: note: item {id} goes with item {program}; `takedown quarantine restore {program}` restores them together"
        );
    }
    Ok(if failed { 2 } else { 0 })
}

fn report_restore(
    out: &mut dyn Write,
    json: bool,
    id: &str,
    m: &Meta,
    r: &takedown_vault::restore::Restored,
    with: Option<&str>,
) -> anyhow::Result<()> {
    if json {
        let mut v = serde_json::json!({
            "id": id, "kind": m.kind, "path": r.path.to_string_lossy(), "sha256": r.sha256,
            "written": r.written, "notes": r.notes,
        });
        if let Some(with) = with {
            v["linked"] = serde_json::json!(with);
        }
        writeln!(out, "{v}")?;
        return Ok(());
    }
    let what = match (m.kind, r.written) {
        (_, false) => "already holds the original content of",
        (Kind::File, true) => "restored from",
        (Kind::Replaced, true) => "original content restored from",
    };
    let with = with
        .map(|w| format!(", which goes with item {w}"))
        .unwrap_or_default();
    writeln!(
        out,
        "{}: {what} vault item {id}{with} (SHA-256 {} verified)",
        takedown_engine::sanitize::path_for_terminal(&r.path),
        r.sha256
    )?;
    for n in r.notes.iter().filter(|_| r.written) {
        eprintln!("takedown: note: {}", for_terminal(n));
    }
    Ok(())
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::File => "file",
        Kind::Replaced => "replaced",
    }
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
        "{}  {}  {}  {} bytes  {}  [{}]{}{}{}",
        m.id,
        m.quarantined_at,
        kind_name(m.kind),
        m.size,
        for_terminal(&m.original_path),
        for_terminal(&names.join(", ")),
        m.linked
            .as_deref()
            .map(|l| format!("  goes with {}", for_terminal(l)))
            .unwrap_or_default(),
        if m.restores.is_empty() {
            ""
        } else {
            "  (restored)"
        },
        if m.removal_at_reboot.is_some() {
            "  (in use: removal at next boot)"
        } else {
            ""
        }
    )
}

fn show(out: &mut dyn Write, m: &Meta, with_it: &[String]) -> std::io::Result<()> {
    let ts = |t: &takedown_vault::item::Timestamp| format!("{}.{:09}", t.sec, t.nsec);
    writeln!(out, "ID:             {}", m.id)?;
    match m.kind {
        Kind::File => writeln!(out, "Kind:           file (removed from its place)")?,
        Kind::Replaced => writeln!(
            out,
            "Kind:           replaced (the original content; takedown wrote SHA-256 {} in its place)",
            m.replaced_sha256
                .as_deref()
                .map(for_terminal)
                .unwrap_or_default()
        )?,
    }
    if let Some(l) = &m.linked {
        writeln!(out, "Goes with:      {}", for_terminal(l))?;
    }
    for w in with_it {
        writeln!(out, "Goes with it:   {w}")?;
    }
    writeln!(out, "Original path:  {}", for_terminal(&m.original_path))?;
    writeln!(out, "Size:           {} bytes", m.size)?;
    writeln!(out, "SHA-256:        {}", m.sha256)?;
    // Windows records no owner ids or mode bits: those lines are left out.
    if let (Some(uid), Some(gid)) = (m.uid, m.gid) {
        writeln!(
            out,
            "Owner:          {} ({}), group {} ({})",
            uid,
            m.owner.as_deref().map(for_terminal).unwrap_or_default(),
            gid,
            m.group.as_deref().map(for_terminal).unwrap_or_default()
        )?;
    }
    if let Some(mode) = m.mode {
        writeln!(out, "Mode:           {mode:04o}")?;
    }
    if let Some(a) = m.attributes {
        writeln!(out, "Attributes:     {a:#x}")?;
    }
    if let Some(r) = &m.removal_at_reboot {
        writeln!(
            out,
            "Removal:        in use when quarantined; {} is removed at the next boot (scheduled {})",
            for_terminal(&r.path),
            for_terminal(&r.at)
        )?;
    }
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
    if !m.detections.is_array() && !m.detections.is_null() {
        // A replaced item says what was disabled, in the caller's terms.
        writeln!(
            out,
            "Details:        {}",
            for_terminal(&m.detections.to_string())
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
