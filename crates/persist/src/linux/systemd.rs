//! systemd units and timers, system and user.
//!
//! Every unit file with a command (`ExecStart=`, `ExecStartPre=`, ...)
//! is listed, enabled or not: a unit nothing pulls in today can be
//! started by a socket, a path unit, D-Bus or an `Also=`, so leaving it
//! out would hide it. The entry's name says when a `.wants`/`.requires`
//! link enables it (`x.service (enabled: multi-user.target.wants)`).
//! A unit's commands are those of its file with its drop-ins
//! (`x.service.d/*.conf`, in name order) applied: an empty `ExecStart=`
//! resets the list. Each `.timer` is an entry for each command of the
//! unit it starts (`Unit=`, else the `.service` of the same name).
//!
//! Search paths follow systemd's precedence: a unit in `/etc` hides the
//! one of the same name in `/usr/lib`; a unit linked to `/dev/null` (or
//! empty) is masked and runs nothing.

use super::fsroot::{self, Kind};
use super::{Cx, New};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

const SYSTEM_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
];
const GLOBAL_USER_DIRS: &[&str] = &[
    "/etc/systemd/user",
    "/usr/local/lib/systemd/user",
    "/usr/lib/systemd/user",
];
/// Keys whose value is a command line.
const EXEC_KEYS: &[&str] = &[
    "ExecCondition",
    "ExecStartPre",
    "ExecStart",
    "ExecStartPost",
    "ExecReload",
    "ExecStop",
    "ExecStopPre",
    "ExecStopPost",
];
const UNIT_SUFFIXES: &[&str] = &[
    "service",
    "socket",
    "timer",
    "path",
    "target",
    "mount",
    "automount",
    "swap",
    "slice",
    "scope",
    "device",
];

pub(super) fn collect(cx: &mut Cx) {
    let system: Vec<PathBuf> = SYSTEM_DIRS.iter().map(PathBuf::from).collect();
    scope(cx, &system, Some("root"));
    let global: Vec<PathBuf> = GLOBAL_USER_DIRS.iter().map(PathBuf::from).collect();
    scope(cx, &global, None);
    for u in cx.users.clone() {
        let dir = u.home.join(".config/systemd/user");
        scope(cx, &[dir], Some(&u.name));
    }
}

/// One command of a unit.
#[derive(Clone, Debug)]
struct Exec {
    key: String,
    value: String,
    location: PathBuf,
    line: u64,
}

/// What one search path holds.
#[derive(Default)]
struct Units {
    /// Unit name -> its file (`None`: masked), the first in precedence.
    files: BTreeMap<String, Option<PathBuf>>,
    /// Unit name -> drop-in file name -> the file (first in precedence).
    dropins: HashMap<String, BTreeMap<String, PathBuf>>,
    /// Unit name -> the `.wants`/`.requires` directories linking it, and
    /// the first link (to load a unit found only there).
    enabled: BTreeMap<String, (Vec<String>, PathBuf)>,
}

fn scope(cx: &mut Cx, dirs: &[PathBuf], default_user: Option<&str>) {
    let mut units = Units::default();
    let mut seen_dirs: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        // `/lib` is often a link to `/usr/lib`: read each directory once.
        let Ok(r) = cx.root.resolve(dir) else {
            continue;
        };
        if seen_dirs.contains(&r.host) {
            continue;
        }
        seen_dirs.push(r.host);
        read_dir(cx, dir, &mut units);
    }
    // Units named only by a link in a `.wants` directory (`systemctl
    // link`ed from elsewhere): loaded from the link's target.
    for (name, (_, link)) in &units.enabled {
        if units.files.contains_key(name) || units.files.contains_key(&template(name)) {
            continue;
        }
        if let Ok(r) = cx.root.resolve(link)
            && cx.is_file(&r.logical)
        {
            units.files.insert(name.clone(), Some(r.logical));
        }
    }
    let mut execs: HashMap<String, (Vec<Exec>, Option<String>)> = HashMap::new();
    let mut timers: Vec<(String, PathBuf, String)> = Vec::new();
    let names: Vec<(String, Option<PathBuf>)> = units
        .files
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (name, file) in &names {
        let Some(file) = file else { continue };
        // An alias (`dbus-org.x.service` -> `x.service`) is the unit it
        // names: listed once, under its own name.
        if let Some(real) = file.file_name().map(|n| n.to_string_lossy().into_owned())
            && real != *name
            && units.files.get(&real) == Some(&Some(file.clone()))
        {
            continue;
        }
        let mut drop: Vec<PathBuf> = units
            .dropins
            .get(name)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        // Drop-ins are applied in file-name order whatever their directory.
        drop.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        let (list, user, timer_unit) = load(cx, file, &drop);
        let user = user.or(default_user.map(str::to_string));
        if name.ends_with(".timer") {
            let unit = timer_unit
                .unwrap_or_else(|| format!("{}.service", name.trim_end_matches(".timer")));
            timers.push((name.clone(), file.clone(), unit));
            continue;
        }
        let label = label(name, &units);
        for e in &list {
            add_exec(
                cx,
                "systemd-unit",
                &e.location,
                label.clone(),
                user.clone(),
                e,
                Some(e.line),
            );
        }
        execs.insert(name.clone(), (list, user));
    }
    // Timers: each command of the unit they start.
    for (name, file, unit) in timers {
        let label = format!("{} -> {unit}", label(&name, &units));
        let started = execs
            .get(&unit)
            .or_else(|| execs.get(&template(&unit)))
            .cloned();
        match started {
            Some((list, user)) if !list.is_empty() => {
                for e in &list {
                    add_exec(
                        cx,
                        "systemd-timer",
                        &file,
                        label.clone(),
                        user.clone(),
                        e,
                        None,
                    );
                }
            }
            _ => {
                let disable = cx.disable_file(&file);
                cx.add(New {
                    mechanism: "systemd-timer",
                    location: &file,
                    name: label,
                    user: default_user.map(str::to_string),
                    command: None,
                    target: None,
                    line: None,
                    disable,
                })
            }
        }
    }
}

fn add_exec(
    cx: &mut Cx,
    mechanism: &'static str,
    location: &Path,
    name: String,
    user: Option<String>,
    e: &Exec,
    line: Option<u64>,
) {
    // `@`, `-`, `:`, `+`, `!`, `!!` only change how systemd runs it.
    let bare = e.value.trim_start_matches(['@', '-', ':', '+', '!']);
    let target = cx.target_of(bare, &[]);
    // The file that sets the command, for a unit and for a timer alike
    // (see `exec_disable`).
    let disable = exec_disable(cx, e);
    cx.add(New {
        mechanism,
        location,
        name,
        user,
        command: Some(e.value.clone()),
        target,
        line,
        disable,
    });
}

/// How a command of a unit is disabled: the file that sets it goes into
/// the vault. For a unit file, the unit is then not found: the links to
/// it in `.wants`/`.requires` directories dangle, which systemd ignores,
/// so nothing starts it (a timer whose unit is gone fails to start it,
/// harmlessly); a vendor unit of the same name it hid is seen again, as
/// its package made it. For a drop-in, the unit falls back to what its
/// own file and the other drop-ins say. Commenting out the `Exec` line
/// instead would leave the file's other commands (an `ExecStartPre=` of
/// the same malware) and `ExecStart=` resets in drop-ins behave
/// differently; masking would need a link to `/dev/null` made outside
/// the vault. The timer of a unit is left: it belongs to the unit, and
/// may be a package's.
fn exec_disable(cx: &Cx, e: &Exec) -> Option<crate::Disable> {
    cx.disable_file(&e.location)
}

/// The unit name with what enables it.
fn label(name: &str, units: &Units) -> String {
    let mut by: Vec<String> = Vec::new();
    for (n, (dirs, _)) in &units.enabled {
        if n == name || template(n) == name {
            for d in dirs {
                if !by.contains(d) {
                    by.push(d.clone());
                }
            }
        }
    }
    if by.is_empty() {
        name.to_string()
    } else {
        format!("{name} (enabled: {})", by.join(", "))
    }
}

/// `x@i.service` -> `x@.service` (the template file of an instance).
fn template(name: &str) -> String {
    match (name.split_once('@'), name.rsplit_once('.')) {
        (Some((pre, _)), Some((_, suf))) => format!("{pre}@.{suf}"),
        _ => name.to_string(),
    }
}

fn is_unit_name(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(stem, suf)| !stem.is_empty() && UNIT_SUFFIXES.contains(&suf))
}

fn read_dir(cx: &mut Cx, dir: &Path, units: &mut Units) {
    for n in cx.list(dir) {
        let name = n.to_string_lossy().into_owned();
        let path = dir.join(&n);
        if name.ends_with(".wants") || name.ends_with(".requires") || name.ends_with(".upholds") {
            for l in cx.list(&path) {
                let unit = l.to_string_lossy().into_owned();
                let e = units
                    .enabled
                    .entry(unit)
                    .or_insert_with(|| (Vec::new(), path.join(&l)));
                if !e.0.contains(&name) {
                    e.0.push(name.clone());
                }
            }
        } else if let Some(unit) = name.strip_suffix(".d") {
            if !is_unit_name(unit) {
                continue;
            }
            for c in cx.list(&path) {
                let cname = c.to_string_lossy().into_owned();
                if cname.ends_with(".conf") {
                    units
                        .dropins
                        .entry(unit.to_string())
                        .or_default()
                        .entry(cname)
                        .or_insert_with(|| path.join(&c));
                }
            }
        } else if is_unit_name(&name) && !units.files.contains_key(&name) {
            let masked = cx
                .root
                .link_target(&path)
                .is_some_and(|t| fsroot::show(&t) == "/dev/null");
            if masked {
                units.files.insert(name, None);
            } else if let Some((Kind::File, r)) = cx.root.kind(&path) {
                // The real file: an alias or a `systemctl link` is read
                // (and later edited) where it lives.
                units.files.insert(name, Some(r.logical));
            }
        }
    }
}

/// The commands of a unit file and its drop-ins, its `User=` and (for a
/// timer) its `Unit=`.
fn load(
    cx: &mut Cx,
    file: &Path,
    dropins: &[PathBuf],
) -> (Vec<Exec>, Option<String>, Option<String>) {
    let mut list: Vec<Exec> = Vec::new();
    let mut user = None;
    let mut unit = None;
    for f in std::iter::once(file).chain(dropins.iter().map(PathBuf::as_path)) {
        let Some(text) = cx.text(f) else { continue };
        for (line, key, value) in settings(&text) {
            if EXEC_KEYS.contains(&key.as_str()) {
                if value.trim().is_empty() {
                    list.retain(|e| e.key != key);
                } else {
                    list.push(Exec {
                        key,
                        value,
                        location: f.to_path_buf(),
                        line,
                    });
                }
            } else if key == "User" {
                user = (!value.trim().is_empty()).then(|| value.trim().to_string());
            } else if key == "Unit" {
                unit = Some(value.trim().to_string());
            }
        }
    }
    (list, user, unit)
}

/// `(line, key, value)` of every setting of a unit file: comments (`#`,
/// `;`) skipped, continuation lines (a trailing `\`) joined, the line
/// being the first one.
fn settings(text: &str) -> Vec<(u64, String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, l)) = lines.next() {
        let t = l.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') || t.starts_with('[') {
            continue;
        }
        let mut full = String::new();
        let mut cur = t.to_string();
        loop {
            match cur.strip_suffix('\\') {
                Some(head) => {
                    full.push_str(head);
                    full.push(' ');
                    match lines.next() {
                        Some((_, n)) => cur = n.trim().to_string(),
                        None => break,
                    }
                }
                None => {
                    full.push_str(&cur);
                    break;
                }
            }
        }
        if let Some((k, v)) = full.split_once('=') {
            out.push((i as u64 + 1, k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read() {
        let s = settings("[Service]\n# c\nExecStart=/a \\\n  -x\nUser = bob\n;x=y\n");
        assert_eq!(s[0], (3, "ExecStart".into(), "/a  -x".into()));
        assert_eq!(s[1], (5, "User".into(), "bob".into()));
        assert_eq!(s.len(), 2);
        assert_eq!(template("getty@tty1.service"), "getty@.service");
        assert!(is_unit_name("a.service") && !is_unit_name("a.conf"));
    }
}
