//! Loading a chart from a directory or a `.tgz`, safely.
//!
//! A chart archive is untrusted input: entries may not be absolute or climb out with `..`,
//! each file is at most [`MAX_FILE_SIZE`] and the whole chart at most [`MAX_CHART_SIZE`]
//! (Helm's limits). A directory is walked in Go's `filepath.Walk` order (each directory's
//! entries sorted by name), honouring `.helmignore`; symbolic links are followed only when
//! they stay inside the chart.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::chart::{Chart, File, Metadata, parse_metadata, validate_chart};
use crate::error::Error;
use crate::ignore::Rules;

/// The largest file a chart may contain (Helm's `MaxDecompressedFileSize`).
pub const MAX_FILE_SIZE: u64 = 5 * 1024 * 1024;
/// The largest a chart may be in total (Helm's `MaxDecompressedChartSize`).
pub const MAX_CHART_SIZE: u64 = 100 * 1024 * 1024;

/// Loads a chart from a directory or a gzipped tar archive.
pub fn load(path: &Path) -> Result<Chart, Error> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        load_dir(path)
    } else {
        let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        load_archive(&data, &path.display().to_string())
    }
}

/// Loads a chart directory.
pub fn load_dir(dir: &Path) -> Result<Chart, Error> {
    let root = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
    let rules = match std::fs::read_to_string(root.join(".helmignore")) {
        Ok(text) => Rules::parse(&text)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Rules::defaults(),
        Err(e) => return Err(Error::io(root.join(".helmignore"), e)),
    };
    let mut files = Vec::new();
    let mut total = 0u64;
    walk(&root, &root, "", &rules, &mut files, &mut total)?;
    load_files(files, &dir.display().to_string())
}

fn walk(
    root: &Path,
    dir: &Path,
    rel: &str,
    rules: &Rules,
    files: &mut Vec<File>,
    total: &mut u64,
) -> Result<(), Error> {
    // The entry's type comes with the directory listing: only symbolic links cost a stat.
    let mut entries: Vec<(String, PathBuf, std::fs::FileType)> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .map(|e| {
            let e = e.map_err(|err| Error::io(dir, err))?;
            let file_type = e.file_type().map_err(|err| Error::io(e.path(), err))?;
            Ok((
                e.file_name().to_string_lossy().into_owned(),
                e.path(),
                file_type,
            ))
        })
        .collect::<Result<_, Error>>()?;
    entries.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    for (name, path, file_type) in entries {
        let n = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let (real, file_type) = if file_type.is_symlink() {
            let target = path.canonicalize().map_err(|e| Error::io(&path, e))?;
            if !target.starts_with(root) {
                return Err(Error::Archive {
                    archive: root.display().to_string(),
                    message: format!("symbolic link {n} points outside the chart"),
                });
            }
            let meta = std::fs::metadata(&target).map_err(|e| Error::io(&target, e))?;
            (target, meta.file_type())
        } else {
            (path, file_type)
        };
        if file_type.is_dir() {
            if rules.ignore(&n, true) {
                continue;
            }
            walk(root, &real, &n, rules, files, total)?;
            continue;
        }
        if rules.ignore(&n, false) {
            continue;
        }
        if !file_type.is_file() {
            return Err(Error::Archive {
                archive: root.display().to_string(),
                message: format!("cannot load irregular file {n}"),
            });
        }
        let too_large = || Error::Archive {
            archive: root.display().to_string(),
            message: format!(
                "chart file {n:?} is larger than the maximum file size {MAX_FILE_SIZE}"
            ),
        };
        let mut data = Vec::new();
        std::fs::File::open(&real)
            .and_then(|f| f.take(MAX_FILE_SIZE + 1).read_to_end(&mut data))
            .map_err(|e| Error::io(&real, e))?;
        if data.len() as u64 > MAX_FILE_SIZE {
            return Err(too_large());
        }
        *total += data.len() as u64;
        if *total > MAX_CHART_SIZE {
            return Err(Error::Archive {
                archive: root.display().to_string(),
                message: format!("chart is larger than the maximum size {MAX_CHART_SIZE}"),
            });
        }
        files.push(File {
            name: n,
            data: strip_bom(data),
        });
    }
    Ok(())
}

fn strip_bom(mut data: Vec<u8>) -> Vec<u8> {
    if data.starts_with(&[0xef, 0xbb, 0xbf]) {
        data.drain(..3);
    }
    data
}

/// Loads a chart from the bytes of a `.tgz`. `origin` names it in errors.
pub fn load_archive(data: &[u8], origin: &str) -> Result<Chart, Error> {
    let files = archive_files(data, origin)?;
    load_files(files, origin)
}

fn archive_err(origin: &str, message: impl Into<String>) -> Error {
    Error::Archive {
        archive: origin.to_string(),
        message: message.into(),
    }
}

fn archive_files(data: &[u8], origin: &str) -> Result<Vec<File>, Error> {
    if !data.starts_with(&[0x1f, 0x8b, 0x08]) {
        return Err(archive_err(
            origin,
            "does not appear to be a gzipped archive",
        ));
    }
    let gz = flate2::read::GzDecoder::new(data);
    let mut tar = tar::Archive::new(gz);
    let mut files = Vec::new();
    let mut remaining = MAX_CHART_SIZE;
    let entries = tar
        .entries()
        .map_err(|e| archive_err(origin, e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| archive_err(origin, e.to_string()))?;
        let kind = entry.header().entry_type();
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        if !kind.is_file() {
            return Err(archive_err(
                origin,
                "chart archives may only contain regular files",
            ));
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let delim = if raw.contains('\\') { '\\' } else { '/' };
        let parts: Vec<&str> = raw.split(delim).collect();
        if parts[0] == "Chart.yaml" {
            return Err(archive_err(origin, "chart yaml not in base directory"));
        }
        let joined = parts[1..].join("/");
        if joined.starts_with('/') {
            return Err(archive_err(
                origin,
                "chart illegally contains absolute paths",
            ));
        }
        let name = clean_path(&joined);
        if name == "." || name.is_empty() {
            return Err(archive_err(
                origin,
                format!("chart illegally contains content outside the base directory: {raw:?}"),
            ));
        }
        if name.starts_with("..") {
            return Err(archive_err(
                origin,
                "chart illegally references parent directory",
            ));
        }
        let b = name.as_bytes();
        if b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'/' {
            return Err(archive_err(origin, "chart contains illegally named files"));
        }
        let size = entry.header().size().unwrap_or(u64::MAX);
        if size > remaining {
            return Err(archive_err(
                origin,
                format!("decompressed chart is larger than the maximum file size {MAX_CHART_SIZE}"),
            ));
        }
        if size > MAX_FILE_SIZE {
            return Err(archive_err(
                origin,
                format!(
                    "decompressed chart file {raw:?} is larger than the maximum file size {MAX_FILE_SIZE}"
                ),
            ));
        }
        let mut buf = Vec::new();
        (&mut entry)
            .take(remaining)
            .read_to_end(&mut buf)
            .map_err(|e| archive_err(origin, e.to_string()))?;
        remaining -= buf.len() as u64;
        if (buf.len() as u64) < size || remaining == 0 {
            return Err(archive_err(
                origin,
                format!("decompressed chart is larger than the maximum file size {MAX_CHART_SIZE}"),
            ));
        }
        files.push(File {
            name,
            data: strip_bom(buf),
        });
    }
    if files.is_empty() {
        return Err(archive_err(origin, "no files in chart archive"));
    }
    Ok(files)
}

/// Go's `path.Clean`.
fn clean_path(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|s| *s != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            s => out.push(s),
        }
    }
    let body = out.join("/");
    if rooted {
        format!("/{body}")
    } else if body.is_empty() {
        ".".into()
    } else {
        body
    }
}

/// Helm's `loader.LoadFiles`: sorts files into metadata, values, templates, subcharts.
fn load_files(files: Vec<File>, origin: &str) -> Result<Chart, Error> {
    let mut chart = Chart::default();
    let mut metadata: Option<Metadata> = None;
    let chart_yaml_err = |file: &str, message: String| Error::ChartYaml {
        chart: origin.to_string(),
        file: file.to_string(),
        message,
    };
    for f in &files {
        if f.name == "Chart.yaml" {
            let mut md = metadata.take().unwrap_or_default();
            parse_metadata(&String::from_utf8_lossy(&f.data), &mut md, "Chart.yaml")
                .map_err(|m| chart_yaml_err("Chart.yaml", m))?;
            if md.api_version.is_empty() {
                md.api_version = "v1".into();
            }
            metadata = Some(md);
        }
    }
    let mut subcharts: std::collections::BTreeMap<String, Vec<File>> = Default::default();
    for f in files {
        let name = f.name.as_str();
        match name {
            "Chart.yaml" | "Chart.lock" | "requirements.lock" => {
                if name == "requirements.lock"
                    && metadata.as_ref().is_some_and(|m| m.api_version == "v1")
                {
                    chart.files.push(f);
                }
            }
            "values.yaml" => {
                chart.values =
                    driftless_gotmpl::yaml::from_yaml_map(&String::from_utf8_lossy(&f.data))
                        .map_err(|source| Error::Values {
                            source_name: format!("chart {origin}: cannot load values.yaml"),
                            source,
                        })?;
            }
            "values.schema.json" => chart.schema = Some(f.data),
            "requirements.yaml" => {
                let md = metadata.get_or_insert_with(Metadata::default);
                parse_metadata(&String::from_utf8_lossy(&f.data), md, "requirements.yaml")
                    .map_err(|m| chart_yaml_err("requirements.yaml", m))?;
                if md.api_version == "v1" {
                    chart.files.push(f);
                }
            }
            _ if name.starts_with("templates/") => chart.templates.push(f),
            _ if name.starts_with("charts/") => {
                if name.ends_with(".prov") {
                    chart.files.push(f);
                    continue;
                }
                let rest = &name["charts/".len()..];
                let cname = rest.split('/').next().unwrap_or(rest).to_string();
                subcharts.entry(cname).or_default().push(File {
                    name: rest.to_string(),
                    data: f.data,
                });
            }
            _ => chart.files.push(f),
        }
    }
    chart.metadata = metadata.ok_or_else(|| Error::MissingChartYaml {
        chart: origin.to_string(),
    })?;
    validate_chart(&mut chart, origin)?;
    for (n, files) in subcharts {
        if n.starts_with('_') || n.starts_with('.') {
            continue;
        }
        let sub_origin = format!("{origin}/charts/{n}");
        let sc = if n.ends_with(".tgz") {
            let file = files
                .into_iter()
                .next()
                .ok_or_else(|| archive_err(&sub_origin, "empty"))?;
            if file.name != n {
                return Err(archive_err(
                    &sub_origin,
                    format!(
                        "error unpacking subchart tar in {}: expected {n}, got {}",
                        chart.name(),
                        file.name
                    ),
                ));
            }
            load_archive(&file.data, &sub_origin)?
        } else {
            let buff: Vec<File> = files
                .into_iter()
                .filter_map(|f| {
                    f.name.split_once('/').map(|(_, rest)| File {
                        name: rest.to_string(),
                        data: f.data,
                    })
                })
                .collect();
            load_files(buff, &sub_origin)?
        };
        chart.dependencies.push(sc);
    }
    Ok(chart)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn loads_a_directory_with_subcharts_and_helmignore() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "Chart.yaml",
            "apiVersion: v2\nname: top\nversion: 0.1.0\n",
        );
        write(d.path(), "values.yaml", "a: 1\n");
        write(d.path(), ".helmignore", "*.bak\n");
        write(d.path(), "templates/cm.yaml", "kind: ConfigMap\n");
        write(d.path(), "templates/.hidden", "x");
        write(d.path(), "templates/old.bak", "x");
        write(d.path(), "files/a.txt", "A");
        write(
            d.path(),
            "charts/sub/Chart.yaml",
            "apiVersion: v2\nname: sub\nversion: 1.0.0\n",
        );
        write(d.path(), "charts/sub/templates/s.yaml", "kind: Secret\n");
        let c = load(d.path()).unwrap();
        assert_eq!(c.name(), "top");
        assert_eq!(c.templates.len(), 1);
        assert!(c.files.iter().any(|f| f.name == "files/a.txt"));
        assert!(c.files.iter().any(|f| f.name == ".helmignore"));
        assert_eq!(c.dependencies.len(), 1);
        assert_eq!(c.dependencies[0].templates[0].name, "templates/s.yaml");
        assert_eq!(c.values["a"].as_f64(), Some(1.0));
    }

    #[test]
    fn missing_chart_yaml_names_the_chart() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "values.yaml", "a: 1\n");
        let err = load(d.path()).unwrap_err();
        assert!(matches!(err, Error::MissingChartYaml { .. }));
        assert!(
            err.to_string().contains("Chart.yaml file is missing"),
            "{err}"
        );
    }

    fn tgz(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::default(),
        ));
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            // Write the raw name so unsafe paths can be tested.
            let raw = h.as_old_mut();
            raw.name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn loads_an_archive() {
        let data = tgz(&[
            (
                "demo/Chart.yaml",
                b"apiVersion: v2\nname: demo\nversion: 1.0.0\n",
            ),
            ("demo/templates/a.yaml", b"kind: A\n"),
        ]);
        let c = load_archive(&data, "demo.tgz").unwrap();
        assert_eq!(c.templates[0].name, "templates/a.yaml");
    }

    #[test]
    fn refuses_escaping_archives() {
        let data = tgz(&[
            (
                "demo/Chart.yaml",
                b"apiVersion: v2\nname: demo\nversion: 1.0.0\n",
            ),
            ("demo/../../etc/passwd", b"x"),
        ]);
        let err = load_archive(&data, "evil.tgz").unwrap_err();
        assert!(err.to_string().contains("parent directory"), "{err}");
        let err = load_archive(b"not gzip", "x.tgz").unwrap_err();
        assert!(err.to_string().contains("gzipped"), "{err}");
    }
}
