//! Autostart entries of an offline volume's registry hives: Run keys,
//! Winlogon, AppInit_DLLs, Image File Execution Options, services,
//! BootExecute and the scheduled tasks of the TaskCache.
//!
//! SOFTWARE and SYSTEM come from `Windows/System32/config`, each user's
//! NTUSER.DAT from the profile ProfileList names. A hive that cannot be
//! read (absent is not a problem, unreadable or dirty without logs is) is
//! a [`Problem`](crate::Problem); the others are still read.
//!
//! Each entry says how to disable it restorably ([`Entry::disable`]): the
//! value, list item or key to take out of which hive file, none when that
//! would break the system (a Winlogon `Shell` or `Userinit` of one item)
//! or when a name read from the hive could not be found again by its path
//! (a key name holding a `\`).

use super::hive::{Hive, Key, MAX_STRING, Value};
use super::paths::{self, Vars};
use crate::{Disable, Entry, Inventory, Os};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Depth of the TaskCache tree walked (folders of folders): Windows' own
/// task folders are a few levels deep.
const MAX_TASK_DEPTH: usize = 16;
/// Keys of the TaskCache walked in all (a hostile hive can make a tree of
/// millions).
const MAX_TASK_KEYS: usize = 100_000;
/// User profiles read (each one loads a hive).
const MAX_PROFILES: usize = 1_000;
/// Sub-keys of a key whose values are entries (RunOnceEx sections).
const MAX_SECTIONS: usize = 256;
/// Bytes of a TaskCache Actions blob decoded.
const MAX_ACTIONS: usize = 64 << 10;

const CONFIG: &str = r"Windows\System32\config";
/// The TaskCache keys that hold a task's triggers by its GUID, besides
/// `Tasks`: the scheduler starts a task listed in any of them.
const TASK_TRIGGER_KEYS: &[&str] = &["Boot", "Logon", "Plain", "Maintenance"];
const NT_CV: &str = r"Microsoft\Windows NT\CurrentVersion";
const CV: &str = r"Microsoft\Windows\CurrentVersion";

/// Run-like keys under SOFTWARE (and under a user's `Software`), relative
/// to `Microsoft\Windows\CurrentVersion`; the Wow6432Node forms too.
const RUN_KEYS: &[&str] = &[
    "Run",
    "RunOnce",
    "RunServices",
    "RunServicesOnce",
    r"Policies\Explorer\Run",
];

/// Where entries are read from: the volume, the hive file on this
/// machine (what a disable edits), the variables in force.
#[derive(Clone, Copy)]
struct Src<'a> {
    root: &'a Path,
    hive: &'a Path,
    vars: &'a Vars,
}

/// Whether `name`, read from a hive, can be one component of a key path
/// that finds it again: a name holding a `\` (no Windows key has one)
/// would lead the edit to another key.
fn plain(name: &str) -> bool {
    !name.is_empty() && !name.contains('\\')
}

/// One change, or all of several.
fn all(mut parts: Vec<Disable>) -> Disable {
    if parts.len() == 1
        && let Some(one) = parts.pop()
    {
        return one;
    }
    Disable::All(parts)
}

impl Src<'_> {
    /// The hive file, when known (an empty path is not one).
    fn hive(&self) -> Option<PathBuf> {
        (!self.hive.as_os_str().is_empty()).then(|| self.hive.to_path_buf())
    }

    fn key(&self, key: String) -> Option<Disable> {
        Some(Disable::RegistryKey {
            hive: self.hive()?,
            key,
        })
    }

    fn value(&self, key: &str, value: &str) -> Option<Disable> {
        // A name as long as the reader keeps may have been cut: it would
        // name no value.
        if value.len() >= MAX_STRING {
            return None;
        }
        Some(Disable::RegistryValue {
            hive: self.hive()?,
            key: key.to_string(),
            value: value.to_string(),
        })
    }

    fn item(&self, key: &str, value: &str, item: &str) -> Option<Disable> {
        Some(Disable::RegistryListItem {
            hive: self.hive()?,
            key: key.to_string(),
            value: value.to_string(),
            item: item.to_string(),
        })
    }
}

fn entry(mechanism: &'static str, location: String, name: String) -> Entry {
    Entry {
        os: Os::Windows,
        mechanism,
        location,
        name,
        user: None,
        command: None,
        target: None,
        line: None,
        disable: None,
    }
}

/// Every autostart entry of the registry hives under `root`.
pub fn collect(root: &Path) -> Inventory {
    collect_with_vars(root).0
}

/// [`collect`], and the volume's system variables as its hives set them
/// (SystemRoot, ProgramFiles, the system environment...), for the readers
/// of tasks and Startup folders.
pub fn collect_with_vars(root: &Path) -> (Inventory, Vars) {
    let mut inv = Inventory::default();
    let mut vars = Vars::system();
    let mut software = open(root, "SOFTWARE", &mut inv);
    let mut system = open(root, "SYSTEM", &mut inv);
    if let Some((h, _)) = software.as_mut() {
        system_vars(h, &mut vars);
    }
    if let Some((h, _)) = system.as_mut() {
        environment(h, &mut vars);
    }
    if let Some((h, path)) = software.as_mut() {
        let src = Src {
            root,
            hive: path,
            vars: &vars,
        };
        software_entries(src, h, &mut inv);
        for (sid, profile) in profiles(h, &vars) {
            let user_vars = vars.for_user(&profile);
            let user = profile
                .rsplit(['\\', '/'])
                .next()
                .filter(|s| !s.is_empty())
                .unwrap_or(&sid)
                .to_string();
            let rel = format!(r"{profile}\NTUSER.DAT");
            let Some(rel_vol) = volume_path(&rel, &vars) else {
                continue;
            };
            match Hive::open(root, &rel_vol) {
                Ok(Some(mut h)) => {
                    let path = paths::resolve(root, &rel_vol).unwrap_or_default();
                    let mut uv = user_vars;
                    if let Some(k) = h.key("Environment") {
                        for (n, v) in k.values() {
                            if let Some(s) = v.as_str() {
                                let e = paths::expand(&s, &uv);
                                uv.set(&n, &e);
                            }
                        }
                    }
                    let src = Src {
                        root,
                        hive: &path,
                        vars: &uv,
                    };
                    user_entries(src, &mut h, &sid, &user, &mut inv);
                    damage(&mut h, &rel, &mut inv);
                }
                Ok(None) => {}
                Err(reason) => inv.problem(rel.clone(), reason),
            }
        }
    }
    if let Some((h, path)) = system.as_mut() {
        let src = Src {
            root,
            hive: path,
            vars: &vars,
        };
        system_entries(src, h, &mut inv);
    }
    for (name, hive) in [("SOFTWARE", &mut software), ("SYSTEM", &mut system)] {
        if let Some((h, _)) = hive.as_mut() {
            damage(h, &config_location(name), &mut inv);
        }
    }
    (inv, vars)
}

/// The damage reading `h` met (keys, lists or values that do not read),
/// each a problem at `location`: the entries there may be incomplete.
fn damage(h: &mut Hive, location: &str, inv: &mut Inventory) {
    for reason in h.problems() {
        inv.problem(
            location.to_string(),
            format!("damaged hive, read in part: {reason}"),
        );
    }
}

/// Where a hive of the config folder is, as problems name it.
fn config_location(name: &str) -> String {
    format!("/{}", format!(r"{CONFIG}\{name}").replace('\\', "/"))
}

/// Lists the entries of hive bytes as if they were SOFTWARE, SYSTEM and
/// a user's NTUSER.DAT of an empty volume: the entry point for fuzzing
/// (every reader of this module runs on the bytes).
pub fn entries_of_hive_bytes(bytes: &[u8]) -> Inventory {
    let mut inv = Inventory::default();
    let root = Path::new("/nonexistent-takedown-volume");
    let hive = root.join("hive");
    let vars = Vars::system();
    match Hive::from_bytes(bytes.to_vec(), Vec::new()) {
        Ok(mut h) => {
            let mut v = vars.clone();
            system_vars(&mut h, &mut v);
            environment(&mut h, &mut v);
            let _ = profiles(&mut h, &v);
            let src = Src {
                root,
                hive: &hive,
                vars: &v,
            };
            software_entries(src, &mut h, &mut inv);
            user_entries(src, &mut h, "S-1-5-21-0", "user", &mut inv);
            system_entries(src, &mut h, &mut inv);
            damage(&mut h, "hive", &mut inv);
        }
        Err(reason) => inv.problem("hive", reason),
    }
    inv
}

/// The hive `name` of the config folder, with its path on this machine.
fn open(root: &Path, name: &str, inv: &mut Inventory) -> Option<(Hive, PathBuf)> {
    let rel = format!(r"{CONFIG}\{name}");
    match Hive::open(root, &rel) {
        Ok(h) => h.map(|h| (h, paths::resolve(root, &rel).unwrap_or_default())),
        Err(reason) => {
            inv.problem(config_location(name), reason);
            None
        }
    }
}

/// `C:\Users\x` as a path from the volume root, when on the system drive.
fn volume_path(path: &str, vars: &Vars) -> Option<String> {
    let sys = vars.get("SystemDrive").unwrap_or("C:");
    match path.get(..2) {
        Some(d) if d.eq_ignore_ascii_case(sys) => Some(path[2..].to_string()),
        _ if path.starts_with('\\') && !path.starts_with(r"\\") => Some(path.to_string()),
        _ => None,
    }
}

/// SystemRoot, ProgramFiles and the profile folders as this volume's
/// SOFTWARE says.
fn system_vars(h: &mut Hive, vars: &mut Vars) {
    if let Some(k) = h.key(NT_CV)
        && let Some(sr) = k.value("SystemRoot").and_then(|v| v.as_str())
        && sr.len() > 2
    {
        vars.set("SystemRoot", &sr);
        vars.set("windir", &sr);
        if let Some(d) = sr.get(..2) {
            vars.set("SystemDrive", d);
        }
    }
    if let Some(k) = h.key(CV) {
        for (value, var) in [
            ("ProgramFilesDir", "ProgramFiles"),
            ("ProgramFilesDir (x86)", "ProgramFiles(x86)"),
            ("CommonFilesDir", "CommonProgramFiles"),
        ] {
            if let Some(s) = k.value(value).and_then(|v| v.as_str()) {
                let e = paths::expand(&s, vars);
                vars.set(var, &e);
            }
        }
    }
    if let Some(k) = h.key(&format!(r"{NT_CV}\ProfileList")) {
        for (value, var) in [
            ("ProgramData", "ProgramData"),
            ("ProgramData", "ALLUSERSPROFILE"),
            ("Public", "PUBLIC"),
        ] {
            if let Some(s) = k.value(value).and_then(|v| v.as_str()) {
                let e = paths::expand(&s, vars);
                vars.set(var, &e);
            }
        }
    }
}

/// The system environment of SYSTEM's current control set.
fn environment(h: &mut Hive, vars: &mut Vars) {
    let Some(cs) = control_set(h) else { return };
    if let Some(k) = h.key(&format!(r"{cs}\Control\Session Manager\Environment")) {
        for (n, v) in k.values() {
            if n.eq_ignore_ascii_case("Path") {
                continue;
            }
            if let Some(s) = v.as_str() {
                let e = paths::expand(&s, vars);
                vars.set(&n, &e);
            }
        }
    }
}

/// The users of ProfileList: (SID, profile path expanded).
fn profiles(h: &mut Hive, vars: &Vars) -> Vec<(String, String)> {
    let Some(list) = h.key(&format!(r"{NT_CV}\ProfileList")) else {
        return Vec::new();
    };
    let (keys, _) = h.subkeys(&list);
    keys.iter()
        .take(MAX_PROFILES)
        .filter_map(|k| {
            let p = k.value("ProfileImagePath")?.as_str()?;
            let p = paths::expand(&p, vars);
            Some((k.name().to_string(), p.trim_end_matches('\\').to_string()))
        })
        .collect()
}

/// `ControlSet00N` from `Select\Current`.
fn control_set(h: &mut Hive) -> Option<String> {
    let n = h.key("Select")?.value("Current")?.as_num()?;
    (1..=999).contains(&n).then(|| format!("ControlSet{n:03}"))
}

fn with_target(mut e: Entry, root: &Path, command: String, vars: &Vars) -> Entry {
    e.target = paths::target(root, &command, vars);
    e.command = Some(command);
    e
}

/// Every value of `key` as an entry, disabled by deleting the value.
fn value_entries(
    src: Src,
    h: &mut Hive,
    path: &str,
    location: &str,
    mechanism: &'static str,
    user: Option<&str>,
    inv: &mut Inventory,
) {
    let Some(k) = h.key(path) else { return };
    if k.values_truncated() {
        inv.problem(location, "too many values: only the first ones are listed");
    }
    for (name, v) in k.values() {
        let Some(cmd) = v.as_str() else { continue };
        let disable = src.value(path, &name);
        let mut e = with_target(
            entry(mechanism, location.to_string(), name),
            src.root,
            cmd,
            src.vars,
        );
        e.user = user.map(str::to_string);
        e.disable = disable;
        inv.entries.push(e);
    }
}

/// Run keys of a `Software` key (SOFTWARE itself, or a user's).
fn run_keys(
    src: Src,
    h: &mut Hive,
    software: &str,
    prefix: &str,
    user: Option<&str>,
    inv: &mut Inventory,
) {
    for wow in ["", r"Wow6432Node\"] {
        for run in RUN_KEYS {
            let path = join(software, &format!(r"{wow}{CV}\{run}"));
            let location = format!(r"{prefix}\{path}");
            value_entries(src, h, &path, &location, "run-key", user, inv);
        }
        // RunOnceEx: sections (sub-keys) whose values are commands.
        let path = join(software, &format!(r"{wow}{CV}\RunOnceEx"));
        if let Some(k) = h.key(&path) {
            let (subs, _) = h.subkeys(&k);
            for s in subs.iter().take(MAX_SECTIONS) {
                if !plain(s.name()) {
                    continue;
                }
                let sp = format!(r"{path}\{}", s.name());
                let location = format!(r"{prefix}\{sp}");
                value_entries(src, h, &sp, &location, "run-key", user, inv);
            }
        }
    }
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!(r"{a}\{b}")
    }
}

/// Winlogon Shell and Userinit of a `Software` key. An item is disabled
/// by taking it out of the list; the only item of the machine's list is
/// not (Windows would start no shell, or no logon at all); a user's own
/// value of one item is deleted (the machine's applies again).
fn winlogon(
    src: Src,
    h: &mut Hive,
    software: &str,
    prefix: &str,
    user: Option<&str>,
    inv: &mut Inventory,
) {
    for wow in ["", r"Wow6432Node\"] {
        let path = join(software, &format!(r"{wow}{NT_CV}\Winlogon"));
        let Some(k) = h.key(&path) else { continue };
        for name in ["Shell", "Userinit"] {
            let Some(cmd) = k.value(name).and_then(|v| v.as_str()) else {
                continue;
            };
            let location = format!(r"{prefix}\{path}");
            // Both are comma-separated lists and Winlogon starts every
            // item (`userinit.exe,C:\evil.exe` runs both): one entry per
            // item, so an added one shows with its own target.
            let items: Vec<&str> = cmd
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .take(MAX_SECTIONS)
                .collect();
            for item in &items {
                let mut e = entry("winlogon", location.clone(), name.to_string());
                e.target = paths::target(src.root, item, src.vars);
                e.command = Some(item.to_string());
                e.user = user.map(str::to_string);
                e.disable = if items.iter().any(|o| o != item) {
                    src.item(&path, name, item)
                } else if user.is_some() {
                    src.value(&path, name)
                } else {
                    None
                };
                inv.entries.push(e);
            }
        }
    }
}

fn software_entries(src: Src, h: &mut Hive, inv: &mut Inventory) {
    let prefix = r"HKLM\SOFTWARE";
    run_keys(src, h, "", prefix, None, inv);
    winlogon(src, h, "", prefix, None, inv);
    for wow in ["", r"Wow6432Node\"] {
        // AppInit_DLLs: listed when the list is not empty (whether
        // LoadAppInit_DLLs is set or not: a set list is suspicious).
        let path = format!(r"{wow}{NT_CV}\Windows");
        if let Some(k) = h.key(&path)
            && let Some(list) = k.value("AppInit_DLLs").and_then(|v| v.as_str())
        {
            let location = format!(r"{prefix}\{path}");
            let dlls: Vec<&str> = list
                .split([',', ' '])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .take(MAX_SECTIONS)
                .collect();
            for dll in &dlls {
                let mut e = with_target(
                    entry("appinit-dlls", location.clone(), "AppInit_DLLs".into()),
                    src.root,
                    dll.to_string(),
                    src.vars,
                );
                // The only DLL: the value goes (no value, no DLL loaded,
                // as with an empty one).
                e.disable = if dlls.iter().any(|o| o != dll) {
                    src.item(&path, "AppInit_DLLs", dll)
                } else {
                    src.value(&path, "AppInit_DLLs")
                };
                inv.entries.push(e);
            }
        }
        // Image File Execution Options debuggers.
        let path = format!(r"{wow}{NT_CV}\Image File Execution Options");
        if let Some(k) = h.key(&path) {
            let (subs, truncated) = h.subkeys(&k);
            if truncated {
                inv.problem(
                    format!(r"{prefix}\{path}"),
                    "too many keys: only the first ones are read",
                );
            }
            for s in subs {
                if let Some(cmd) = s.value("Debugger").and_then(|v| v.as_str()) {
                    let location = format!(r"{prefix}\{path}\{}", s.name());
                    let mut e = with_target(
                        entry("ifeo-debugger", location, s.name().to_string()),
                        src.root,
                        cmd,
                        src.vars,
                    );
                    if plain(s.name()) {
                        e.disable = src.value(&format!(r"{path}\{}", s.name()), "Debugger");
                    }
                    inv.entries.push(e);
                }
            }
        }
    }
    task_cache(src, h, inv);
}

fn user_entries(src: Src, h: &mut Hive, sid: &str, user: &str, inv: &mut Inventory) {
    let prefix = format!(r"HKU\{sid}");
    run_keys(src, h, "Software", &prefix, Some(user), inv);
    winlogon(src, h, "Software", &prefix, Some(user), inv);
}

/// The control sets of SYSTEM other than `current` (`ControlSet002`...):
/// LastKnownGood boots from one of them.
fn other_control_sets(h: &mut Hive, current: &str) -> Vec<String> {
    let Some(root) = h.key("") else {
        return Vec::new();
    };
    let (keys, _) = h.subkeys(&root);
    keys.iter()
        .map(|k| k.name().to_string())
        .filter(|n| {
            n.len() == 13
                && n.get(..10)
                    .is_some_and(|p| p.eq_ignore_ascii_case("ControlSet"))
                && n.get(10..)
                    .is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit()))
                && !n.eq_ignore_ascii_case(current)
        })
        .collect()
}

/// A service's ImagePath and ServiceDll.
fn service_config(h: &mut Hive, key: &Key) -> (Option<String>, Option<String>) {
    let image = key.value("ImagePath").and_then(|v| v.as_str());
    let dll = h
        .subkey(key, "Parameters")
        .and_then(|p| p.value("ServiceDll"))
        .and_then(|v| v.as_str());
    (image, dll)
}

/// Disabling a service: its key deleted from the current control set,
/// and from every other control set holding it with the same ImagePath
/// and ServiceDll (so booting LastKnownGood does not start it again; a
/// service of the same name configured otherwise there is left alone).
fn service_disable(
    src: Src,
    h: &mut Hive,
    (cs, others): (&str, &[String]),
    key: &Key,
) -> Option<Disable> {
    let name = key.name();
    if !plain(name) {
        return None;
    }
    let config = service_config(h, key);
    let mut parts = vec![src.key(format!(r"{cs}\Services\{name}"))?];
    for other in others {
        let path = format!(r"{other}\Services\{name}");
        if let Some(k) = h.key(&path)
            && service_config(h, &k) == config
        {
            parts.push(src.key(path)?);
        }
    }
    Some(all(parts))
}

fn system_entries(src: Src, h: &mut Hive, inv: &mut Inventory) {
    let Some(cs) = control_set(h) else {
        if h.key("Select").is_some() {
            inv.problem(r"HKLM\SYSTEM\Select", "no valid current control set");
        }
        return;
    };
    let others = other_control_sets(h, &cs);
    let services = format!(r"{cs}\Services");
    if let Some(k) = h.key(&services) {
        let (subs, truncated) = h.subkeys(&k);
        if truncated {
            inv.problem(
                format!(r"HKLM\SYSTEM\{services}"),
                "too many services: only the first ones are read",
            );
        }
        for s in subs {
            let location = format!(r"HKLM\SYSTEM\{services}\{}", s.name());
            let user = s.value("ObjectName").and_then(|v| v.as_str());
            let (image, dll) = service_config(h, &s);
            if image.is_none() && dll.is_none() {
                continue;
            }
            // The service key goes, for its ImagePath or its ServiceDll.
            let disable = service_disable(src, h, (&cs, &others), &s);
            if let Some(cmd) = image {
                let mut e = with_target(
                    entry("service", location.clone(), s.name().into()),
                    src.root,
                    cmd,
                    src.vars,
                );
                e.user = user.clone();
                e.disable = disable.clone();
                inv.entries.push(e);
            }
            if let Some(cmd) = dll {
                let location = format!(r"{location}\Parameters");
                let mut e = with_target(
                    entry("service", location, s.name().into()),
                    src.root,
                    cmd,
                    src.vars,
                );
                e.user = user;
                e.disable = disable;
                inv.entries.push(e);
            }
        }
    }
    let sm = format!(r"{cs}\Control\Session Manager");
    if let Some(k) = h.key(&sm) {
        let list = match k.value("BootExecute") {
            Some(Value::Multi(v)) => v,
            Some(Value::Str(s)) => vec![s],
            _ => Vec::new(),
        };
        let list: Vec<String> = list.into_iter().filter(|s| !s.trim().is_empty()).collect();
        for cmd in &list {
            let mut e = entry(
                "boot-execute",
                format!(r"HKLM\SYSTEM\{sm}"),
                "BootExecute".into(),
            );
            // `autocheck autochk *`: "autocheck" marks the line, the
            // program (in System32) follows.
            let prog = cmd
                .trim()
                .strip_prefix("autocheck ")
                .unwrap_or(cmd.trim())
                .to_string();
            // One string of the list goes; when it is the only one, the
            // value goes (Windows boots without BootExecute: it then only
            // skips the check of dirty volumes).
            e.disable = if list.iter().any(|o| o != cmd) {
                src.item(&sm, "BootExecute", cmd)
            } else {
                src.value(&sm, "BootExecute")
            };
            let mut e = with_target(e, src.root, prog, src.vars);
            e.command = Some(cmd.clone());
            inv.entries.push(e);
        }
    }
}

/// Disabling a TaskCache task: its `Tree` key (when it has one), and its
/// `Tasks` and trigger keys by GUID where present. None when the GUID
/// cannot name a key.
fn task_disable(
    src: Src,
    index: &TaskIndex,
    base: &str,
    tree: Option<&str>,
    id: &str,
) -> Option<Disable> {
    let mut parts = Vec::new();
    if let Some(t) = tree {
        parts.push(src.key(format!(r"{base}\Tree{t}"))?);
    }
    if !plain(id) {
        return None;
    }
    for sub in std::iter::once("Tasks").chain(TASK_TRIGGER_KEYS.iter().copied()) {
        if index.has(sub, id) {
            parts.push(src.key(format!(r"{base}\{sub}\{id}"))?);
        }
    }
    (!parts.is_empty()).then(|| all(parts))
}

/// The keys of the TaskCache named by a task's GUID (`Tasks` and the
/// trigger keys), each listed once. Looking each task's keys up by path
/// instead read every sibling at each step (notatin reads a key's whole
/// sub-key list to find one name): 1,000 tasks cost seconds.
struct TaskIndex {
    /// `Tasks\{GUID}` by lower-case GUID (the first of equal names, as a
    /// lookup by path finds).
    tasks: HashMap<String, Key>,
    /// The lower-case names under `Tasks` and each trigger key.
    names: HashMap<&'static str, HashSet<String>>,
}

impl TaskIndex {
    fn read(h: &mut Hive, base: &str) -> TaskIndex {
        let mut index = TaskIndex {
            tasks: HashMap::new(),
            names: HashMap::new(),
        };
        for sub in std::iter::once("Tasks").chain(TASK_TRIGGER_KEYS.iter().copied()) {
            let Some(k) = h.key(&format!(r"{base}\{sub}")) else {
                continue;
            };
            let (subs, _) = h.subkeys(&k);
            let mut names = HashSet::new();
            for s in subs {
                let name = s.name().to_ascii_lowercase();
                names.insert(name.clone());
                if sub == "Tasks" {
                    index.tasks.entry(name).or_insert(s);
                }
            }
            index.names.insert(sub, names);
        }
        index
    }

    /// Whether `sub` (`Tasks` or a trigger key) has a key named `id`.
    fn has(&self, sub: &str, id: &str) -> bool {
        !id.contains('\\')
            && self
                .names
                .get(sub)
                .is_some_and(|n| n.contains(&id.to_ascii_lowercase()))
    }

    /// The command of the task `id` (its first exec action).
    fn command(&self, id: &str) -> Option<String> {
        if id.contains('\\') {
            return None;
        }
        let k = self.tasks.get(&id.to_ascii_lowercase())?;
        exec_command(&k.value("Actions")?)
    }
}

/// Scheduled tasks of the TaskCache: every task of `Tree` (by its path)
/// and every task of `Tasks` that `Tree` does not name (a task hidden by
/// deleting its Tree key still runs).
fn task_cache(src: Src, h: &mut Hive, inv: &mut Inventory) {
    let base = format!(r"{NT_CV}\Schedule\TaskCache");
    let index = TaskIndex::read(h, &base);
    let mut named = HashSet::new();
    if let Some(tree) = h.key(&format!(r"{base}\Tree")) {
        // (key, task path, depth, whether every name on the path is
        // plain: only then does the path find the key again).
        let mut stack = vec![(tree, String::new(), 0usize, true)];
        let mut seen = HashSet::new();
        let mut walked = 0usize;
        while let Some((k, path, depth, findable)) = stack.pop() {
            walked += 1;
            if walked > MAX_TASK_KEYS {
                inv.problem(
                    format!(r"HKLM\SOFTWARE\{base}\Tree"),
                    "too many keys: the rest is not read",
                );
                break;
            }
            if !seen.insert(Hive::id(&k)) {
                continue;
            }
            if let Some(id) = k.value("Id").and_then(|v| v.as_str()) {
                named.insert(id.to_ascii_lowercase());
                let location = format!(r"HKLM\SOFTWARE\{base}\Tree{path}");
                let mut e = entry("scheduled-task", location, path.clone());
                if let Some(cmd) = index.command(&id) {
                    e = with_target(e, src.root, cmd, src.vars);
                }
                if findable {
                    e.disable = task_disable(src, &index, &base, Some(&path), &id);
                }
                inv.entries.push(e);
            }
            if depth >= MAX_TASK_DEPTH {
                continue;
            }
            // Every key read counts, not only those visited: keys sharing
            // one big sub-key list would otherwise cost its size each.
            walked = walked.saturating_add(k.subkey_count());
            if walked > MAX_TASK_KEYS {
                inv.problem(
                    format!(r"HKLM\SOFTWARE\{base}\Tree"),
                    "too many keys: the rest is not read",
                );
                break;
            }
            let (subs, _) = h.subkeys(&k);
            for s in subs.into_iter().rev() {
                let p = format!(r"{path}\{}", s.name());
                let f = findable && plain(s.name());
                stack.push((s, p, depth + 1, f));
            }
        }
    }
    if let Some(tasks) = h.key(&format!(r"{base}\Tasks")) {
        let (subs, _) = h.subkeys(&tasks);
        for s in subs.into_iter().take(MAX_TASK_KEYS) {
            if named.contains(&s.name().to_ascii_lowercase()) {
                continue;
            }
            let name = s
                .value("Path")
                .and_then(|v| v.as_str())
                .unwrap_or_else(|| s.name().to_string());
            let location = format!(r"HKLM\SOFTWARE\{base}\Tasks\{}", s.name());
            let mut e = entry("scheduled-task", location, name);
            if let Some(cmd) = s.value("Actions").and_then(|v| exec_command(&v)) {
                e = with_target(e, src.root, cmd, src.vars);
            }
            e.disable = task_disable(src, &index, &base, None, s.name());
            inv.entries.push(e);
        }
    }
}

fn exec_command(v: &Value) -> Option<String> {
    match v {
        Value::Bin(b) => decode_actions(b),
        _ => None,
    }
}

/// The first exec action of a TaskCache `Actions` blob, as a command line
/// (`"program" arguments`): u16 version, a counted UTF-16 context, then
/// actions each a u16 kind (0x6666 exec) and counted UTF-16 id, program,
/// arguments, working directory. None when there is none or the blob is
/// malformed.
pub fn decode_actions(blob: &[u8]) -> Option<String> {
    let blob = blob.get(..blob.len().min(MAX_ACTIONS))?;
    let mut r = Reader { b: blob, pos: 0 };
    let _version = r.u16()?;
    r.string()?; // context ("Author", a user)
    let kind = r.u16()?;
    if kind != 0x6666 {
        return None;
    }
    r.string()?; // id
    let program = r.string()?;
    let args = r.string().unwrap_or_default();
    if program.trim().is_empty() {
        return None;
    }
    let program = if program.contains(' ') && !program.starts_with('"') {
        format!("\"{program}\"")
    } else {
        program
    };
    Some(if args.trim().is_empty() {
        program
    } else {
        format!("{program} {args}")
    })
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.b.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn u16(&mut self) -> Option<u16> {
        let s = self.take(2)?;
        Some(u16::from_le_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        let s = self.take(4)?;
        Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    /// A u32 byte count and that many bytes of UTF-16LE.
    fn string(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        let s = self.take(n)?;
        let units: Vec<u16> = s
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        Some(
            String::from_utf16_lossy(&units)
                .trim_end_matches('\0')
                .to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(s: &str) -> Vec<u8> {
        let b: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let mut out = (b.len() as u32).to_le_bytes().to_vec();
        out.extend(b);
        out
    }

    #[test]
    fn actions_blob() {
        let mut b = 3u16.to_le_bytes().to_vec();
        b.extend(utf16("Author"));
        b.extend(0x6666u16.to_le_bytes());
        b.extend(utf16(""));
        b.extend(utf16(r"C:\Program Files\x\a.exe"));
        b.extend(utf16("-q"));
        b.extend(utf16(""));
        assert_eq!(
            decode_actions(&b).as_deref(),
            Some(r#""C:\Program Files\x\a.exe" -q"#)
        );
        for n in 0..b.len() {
            let _ = decode_actions(&b[..n]);
        }
        assert_eq!(decode_actions(&[3, 0, 0xff, 0xff, 0xff, 0xff]), None);
    }

    #[test]
    fn garbage_bytes() {
        assert!(!entries_of_hive_bytes(b"garbage").problems.is_empty());
    }
}
