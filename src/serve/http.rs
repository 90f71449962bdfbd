//! Requests and responses: just enough HTTP for a browser to read files.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Component, Path, PathBuf};

use super::listing;

/// Request heads larger than this are refused.
const MAX_HEAD: usize = 8 * 1024;

pub fn busy(stream: &mut TcpStream) {
    let _ = respond(
        stream,
        503,
        "text/plain; charset=utf-8",
        b"busy; try again\n",
        false,
    );
}

pub fn handle(stream: &mut TcpStream, root: &Path) {
    let (method, target) = match read_head(stream) {
        Ok(Some(r)) => r,
        Ok(None) => {
            let _ = respond(
                stream,
                400,
                "text/plain; charset=utf-8",
                b"bad request\n",
                false,
            );
            return;
        }
        Err(_) => return,
    };
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        let _ = respond(
            stream,
            405,
            "text/plain; charset=utf-8",
            b"only GET and HEAD\n",
            false,
        );
        return;
    }
    let _ = route(stream, root, &target, head_only);
}

/// Reads the request line and discards the headers; `None` if it is not HTTP.
fn read_head(stream: &mut TcpStream) -> io::Result<Option<(String, String)>> {
    let mut reader = BufReader::new(stream.take(MAX_HEAD as u64));
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Ok(None);
    };
    let (method, target) = (method.to_string(), target.to_string());
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
    }
    Ok(Some((method, target)))
}

fn route(stream: &mut TcpStream, root: &Path, target: &str, head_only: bool) -> io::Result<()> {
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let Some(rel) = safe_relative(path) else {
        return not_found(stream, head_only);
    };
    if rel.as_os_str().is_empty() {
        let page = listing::runs_index(root);
        return respond(
            stream,
            200,
            "text/html; charset=utf-8",
            page.as_bytes(),
            head_only,
        );
    }
    let Some(full) = resolve(root, &rel) else {
        return not_found(stream, head_only);
    };
    if full.is_dir() {
        if !path.ends_with('/') {
            let location = format!("{path}/");
            return redirect(stream, &location);
        }
        let index = full.join("index.html");
        if index.is_file() {
            return send_file(stream, &index, head_only);
        }
        let page = listing::directory(root, &full);
        return respond(
            stream,
            200,
            "text/html; charset=utf-8",
            page.as_bytes(),
            head_only,
        );
    }
    send_file(stream, &full, head_only)
}

/// The request path as a relative path with only normal components, or `None` if it tries
/// to leave the directory (`..`, a drive or root prefix, NUL, a backslash).
pub fn safe_relative(path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(path)?;
    if decoded.contains('\0') || decoded.contains('\\') {
        return None;
    }
    let mut rel = PathBuf::new();
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => return None,
            s => {
                let p = Path::new(s);
                if p.components().count() != 1
                    || !matches!(p.components().next(), Some(Component::Normal(_)))
                {
                    return None;
                }
                rel.push(s);
            }
        }
    }
    Some(rel)
}

/// `root/rel` if it exists and, after following symlinks, still lies under `root`.
pub fn resolve(root: &Path, rel: &Path) -> Option<PathBuf> {
    let full = root.join(rel).canonicalize().ok()?;
    full.starts_with(root).then_some(full)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "json" => "application/json",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    }
}

fn send_file(stream: &mut TcpStream, path: &Path, head_only: bool) -> io::Result<()> {
    let Ok(mut f) = File::open(path) else {
        return not_found(stream, head_only);
    };
    let len = f.metadata()?.len();
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {len}\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
        content_type(path)
    )?;
    if !head_only {
        io::copy(&mut f, stream)?;
    }
    stream.flush()
}

fn not_found(stream: &mut TcpStream, head_only: bool) -> io::Result<()> {
    respond(
        stream,
        404,
        "text/plain; charset=utf-8",
        b"not found\n",
        head_only,
    )
}

fn redirect(stream: &mut TcpStream, location: &str) -> io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 301 Moved Permanently\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    stream.flush()
}

fn respond(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
    head_only: bool,
) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    if !head_only {
        stream.write_all(body)?;
    }
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_is_refused_however_it_is_spelled() {
        for bad in [
            "/../etc/passwd",
            "/a/../../x",
            "/%2e%2e/x",
            "/%2E%2E%2Fx",
            "/a/%2e%2e/%2e%2e/x",
            "/..%5cx",
            "/a%00b",
            "/%zz",
        ] {
            assert_eq!(safe_relative(bad), None, "{bad}");
        }
        assert_eq!(safe_relative("/"), Some(PathBuf::new()));
        assert_eq!(
            safe_relative("/run%201/./index.html"),
            Some(PathBuf::from("run 1/index.html"))
        );
    }

    #[test]
    fn a_symlink_out_of_the_directory_is_not_served() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("runs");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(tmp.path().join("secret"), "x").unwrap();
        std::fs::write(root.join("ok.txt"), "y").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("secret"), root.join("link")).unwrap();
        let root = root.canonicalize().unwrap();
        assert!(resolve(&root, Path::new("ok.txt")).is_some());
        assert_eq!(resolve(&root, Path::new("link")), None);
        assert_eq!(resolve(&root, Path::new("missing")), None);
    }
}
