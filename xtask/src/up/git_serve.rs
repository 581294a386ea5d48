//! `cargo xtask git-serve`: a git smart-HTTP server for a directory of bare repositories.
//!
//! Why not the e2e harness's `GitServer`: that one always asks for credentials, starts sshd and
//! lives in a temporary directory dropped with the test. `up` needs a server that outlives the
//! command, serves a fixed directory anonymously and accepts pushes. Like the harness, it runs
//! Git's own `git http-backend` (CGI), so clients talk to the server code real Git hosts run;
//! this file only speaks HTTP/1.1 for it, one request per connection.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

const HTTP_BACKEND: &str = "/usr/lib/git-core/git-http-backend";

/// Serves `root` on `127.0.0.1:port` until killed.
pub fn run(root: &Path, port: u16) -> anyhow::Result<()> {
    anyhow::ensure!(
        Path::new(HTTP_BACKEND).exists(),
        "{HTTP_BACKEND} is missing: install the Debian package `git`"
    );
    let listener = TcpListener::bind(("127.0.0.1", port))
        .with_context(|| format!("listening on 127.0.0.1:{port}"))?;
    eprintln!(
        "git-serve: serving {} on http://127.0.0.1:{port}/",
        root.display()
    );
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let root = root.to_path_buf();
        std::thread::spawn(move || {
            if let Err(e) = serve(stream, &root) {
                eprintln!("git-serve: {e:#}");
            }
        });
    }
    Ok(())
}

/// One request: parse it, run `git http-backend`, write its answer back.
fn serve(stream: TcpStream, root: &Path) -> anyhow::Result<()> {
    let mut reader = BufReader::new(stream.try_clone().context("cloning the socket")?);
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .context("reading the request line")?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        bail!("malformed request line {line:?}");
    };
    let (method, target) = (method.to_string(), target.to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).context("reading a header")?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        read_chunked(&mut reader)?
    } else {
        let len: usize = header("content-length")
            .map(|v| v.parse())
            .transpose()
            .context("bad Content-Length")?
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body).context("reading the body")?;
        body
    };
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));

    let mut cmd = Command::new(HTTP_BACKEND);
    cmd.env_clear()
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("REQUEST_METHOD", &method)
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(v) = header("content-type") {
        cmd.env("CONTENT_TYPE", v);
    }
    if let Some(v) = header("content-encoding") {
        cmd.env("HTTP_CONTENT_ENCODING", v);
    }
    if let Some(v) = header("git-protocol") {
        cmd.env("GIT_PROTOCOL", v);
    }
    let mut child = cmd.spawn().context("starting git http-backend")?;
    let mut stdin = child.stdin.take().context("http-backend stdin")?;
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let out = child
        .wait_with_output()
        .context("running git http-backend")?;
    let _ = writer.join();

    let (head, body) = split_cgi(&out.stdout);
    let mut status = "200 OK".to_string();
    let mut response = Vec::new();
    for h in head.lines() {
        match h.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_string(),
            Some(_) => response.extend_from_slice(format!("{h}\r\n").as_bytes()),
            None => {}
        }
    }
    let mut stream = stream;
    stream.write_all(format!("HTTP/1.1 {status}\r\n").as_bytes())?;
    stream.write_all(&response)?;
    stream.write_all(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )?;
    stream.write_all(body)?;
    stream.flush()?;
    Ok(())
}

/// Splits a CGI answer into its header block and body.
fn split_cgi(out: &[u8]) -> (String, &[u8]) {
    for (sep, len) in [(&b"\r\n\r\n"[..], 4), (&b"\n\n"[..], 2)] {
        if let Some(i) = out.windows(len).position(|w| w == sep) {
            return (
                String::from_utf8_lossy(&out[..i]).into_owned(),
                &out[i + len..],
            );
        }
    }
    (String::new(), out)
}

fn read_chunked(reader: &mut impl std::io::BufRead) -> anyhow::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader
            .read_line(&mut size)
            .context("reading a chunk size")?;
        let size = size.trim().split(';').next().unwrap_or("");
        let size =
            usize::from_str_radix(size, 16).with_context(|| format!("bad chunk size {size:?}"))?;
        if size == 0 {
            // Trailers, then the final empty line.
            loop {
                let mut t = String::new();
                if reader.read_line(&mut t)? == 0 || t.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader
            .read_exact(&mut body[start..])
            .context("reading a chunk")?;
        let mut crlf = [0; 2];
        reader
            .read_exact(&mut crlf)
            .context("reading a chunk end")?;
    }
}

/// Where `up` keeps the bare repositories this server exports.
pub fn repos_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("repos")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_body_is_reassembled_and_trailers_skipped() {
        let raw = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: y\r\n\r\n";
        let body = read_chunked(&mut &raw[..]).unwrap();
        assert_eq!(body, b"Wikipedia");
    }

    #[test]
    fn bad_chunk_size_is_an_error_not_a_panic() {
        let err = read_chunked(&mut &b"zz\r\n"[..]).unwrap_err();
        assert!(format!("{err:#}").contains("bad chunk size"), "{err:#}");
    }

    #[test]
    fn cgi_answer_splits_on_either_blank_line_style() {
        let (head, body) =
            split_cgi(b"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope");
        assert_eq!(head, "Status: 404 Not Found\r\nContent-Type: text/plain");
        assert_eq!(body, b"nope");
        let (head, body) = split_cgi(b"Content-Type: x\n\n\x00\x01");
        assert_eq!(head, "Content-Type: x");
        assert_eq!(body, b"\x00\x01");
    }
}
