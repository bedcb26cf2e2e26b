//! The benchmark's one HTTP/1.1 client: requests are written out as bytes once, and every
//! response is framed by `response_head` (status, Content-Length, keep-alive). Two ways to send:
//! [`Connection`], the async keep-alive connection of the load generators, and [`probe`], one
//! blocking request.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::ops::Range;
use std::time::Duration;

use actix_web::rt::net::TcpStream;

/// How long a request may wait for its whole response.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A response head longer than this is an error.
const MAX_HEAD: usize = 64 * 1024;

pub fn get(host: &str, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\r\n").into_bytes()
}

pub fn post(host: &str, path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A response's head, as read at the start of a buffer.
#[derive(Debug, PartialEq)]
pub struct Head {
    pub status: u16,
    /// Where the body lies in the buffer (it may not all be there yet).
    pub body: Range<usize>,
    /// The server closes the connection after this response.
    pub close: bool,
}

impl Head {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection")
}

/// The head of the response at the start of `buf`, once all of it has been read (`None` until
/// then).
pub fn response_head(buf: &[u8]) -> io::Result<Option<Head>> {
    match buf.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(end) => {
            let (status, len, close) = parse_head(&buf[..end])?;
            let start = end + 4;
            Ok(Some(Head { status, body: start..start + len, close }))
        }
        None if buf.len() > MAX_HEAD => Err(bad("bad response: head over 64 KiB")),
        None => Ok(None),
    }
}

/// Parses a response head (without its final blank line): status, Content-Length, whether the
/// server closes the connection.
fn parse_head(head: &[u8]) -> io::Result<(u16, usize, bool)> {
    let text = std::str::from_utf8(head).map_err(|_| bad("bad response: head not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(bad("bad response: not HTTP/1.x"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad response: status line"))?;
    let mut len = None;
    let mut close = version == "HTTP/1.0";
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-length") {
            len = Some(value.parse::<usize>().map_err(|_| bad("bad response: Content-Length"))?);
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(bad("bad response: chunked (no Content-Length)"));
        }
    }
    let len = match len {
        Some(n) => n,
        None if status == 204 || status == 304 || (100..200).contains(&status) => 0,
        None => return Err(bad("bad response: no Content-Length")),
    };
    Ok((status, len, close))
}

/// How a request of a [`Connection`] failed.
pub enum Failure {
    /// No connection could be opened; nothing was sent.
    Connect(String),
    /// Sent, but no whole response came back (the connection is dropped).
    Exchange(String),
}

impl Failure {
    /// The kind of error, as the report counts them.
    pub fn text(self) -> String {
        match self {
            Failure::Connect(s) | Failure::Exchange(s) => s,
        }
    }
}

/// A keep-alive connection for the load: a request, then its whole response, then the next.
/// It connects when it has no open connection, and reconnects after a server's `close`.
pub struct Connection {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Connection {
    pub fn new(addr: SocketAddr) -> Connection {
        Connection { addr, stream: None, buf: Vec::with_capacity(16 * 1024) }
    }

    /// Sends `req` and reads its whole response; its body is then `self.body(&head)`.
    pub async fn send(&mut self, req: &[u8]) -> Result<Head, Failure> {
        let stream = match self.stream.take() {
            Some(s) => s,
            None => connect(self.addr)
                .await
                .map_err(|e| Failure::Connect(format!("connect: {}", e.kind())))?,
        };
        match actix_web::rt::time::timeout(REQUEST_TIMEOUT, exchange(&stream, req, &mut self.buf))
            .await
        {
            Ok(Ok(head)) => {
                if !head.close {
                    self.stream = Some(stream);
                }
                Ok(head)
            }
            Ok(Err(e)) => Err(Failure::Exchange(io_error_kind(&e))),
            Err(_) => {
                Err(Failure::Exchange(format!("no answer in {} s", REQUEST_TIMEOUT.as_secs())))
            }
        }
    }

    /// The body of the last response.
    pub fn body(&self, head: &Head) -> &[u8] {
        &self.buf[head.body.clone()]
    }
}

async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

async fn read_some(stream: &TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = [0u8; 8192];
    loop {
        stream.readable().await?;
        match stream.try_read(&mut chunk) {
            Ok(0) => return Err(closed()),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Sends one request and reads its whole response into `buf`.
async fn exchange(stream: &TcpStream, req: &[u8], buf: &mut Vec<u8>) -> io::Result<Head> {
    let mut sent = 0;
    while sent < req.len() {
        stream.writable().await?;
        match stream.try_write(&req[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    buf.clear();
    let head = loop {
        if let Some(head) = response_head(buf)? {
            break head;
        }
        read_some(stream, buf).await?;
    };
    while buf.len() < head.body.end {
        read_some(stream, buf).await?;
    }
    Ok(head)
}

/// One request over a plain blocking socket, on a connection of its own: its status and body.
pub fn probe(addr: SocketAddr, req: &[u8]) -> io::Result<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    stream.write_all(req)?;
    let mut buf = Vec::new();
    let mut read_more = |buf: &mut Vec<u8>| -> io::Result<()> {
        let mut chunk = [0u8; 8192];
        match stream.read(&mut chunk)? {
            0 => Err(closed()),
            n => {
                buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
        }
    };
    let head = loop {
        if let Some(head) = response_head(&buf)? {
            break head;
        }
        read_more(&mut buf)?;
    };
    while buf.len() < head.body.end {
        read_more(&mut buf)?;
    }
    Ok((head.status, String::from_utf8_lossy(&buf[head.body]).into_owned()))
}

fn io_error_kind(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::InvalidData => e.to_string(),
        kind => format!("I/O: {kind}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_heads_are_parsed() {
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 31\r\ncontent-type: application/json";
        assert_eq!(parse_head(head).unwrap(), (200, 31, false));
        let head = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0";
        assert_eq!(parse_head(head).unwrap(), (503, 0, true));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK").is_err());
        assert!(parse_head(b"SSH-2.0").is_err());
    }

    #[test]
    fn a_response_is_framed_once_its_head_is_read() {
        let whole = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(response_head(&whole[..20]).unwrap(), None);
        let head = response_head(&whole[..whole.len() - 1]).unwrap().unwrap();
        assert_eq!(head, Head { status: 200, body: 38..40, close: false });
        assert_eq!(&whole[head.body], b"{}");
        assert!(response_head(&vec![b'x'; MAX_HEAD + 1]).is_err());
    }

    #[test]
    fn requests_are_whole_http_1_1_messages() {
        let req = post("127.0.0.1:1", "/api/v2/chats", "{}");
        let text = String::from_utf8(req).unwrap();
        assert!(text.starts_with("POST /api/v2/chats HTTP/1.1\r\nHost: 127.0.0.1:1\r\n"));
        assert!(text.ends_with("Content-Length: 2\r\n\r\n{}"));
        assert!(get("h", "/x").ends_with(b"\r\n\r\n"));
    }
}
