//! `mailtrail outlook-manifest --base-url https://host/addin/ --out DIR`: writes the Outlook
//! add-in's manifests for the URL the add-in files are served from.
//!
//! Both manifests name every page, script and icon by absolute URL, so deploying the add-in is:
//! serve `dist/outlook/` over HTTPS (for example `mailtrail serve --addin-dir dist/outlook`), run
//! this command with that URL, and upload `manifest.xml` (add-in only manifest) or
//! `mailtrail-outlook.zip` (unified manifest app package) in the Microsoft 365 admin center.
//!
//! The templates are the files in `extension/outlook/manifest/`, embedded at build time; the
//! webpack build renders the same templates in JavaScript (`render.js`) and a test checks that
//! both give identical files.

use super::{print_json, CliError, CliResult};
use serde::Serialize;
use std::path::{Path, PathBuf};

const MANIFEST_XML: &str = include_str!("../../../extension/outlook/manifest/manifest.xml");
const MANIFEST_JSON: &str = include_str!("../../../extension/outlook/manifest/manifest.json");
const LOCALE_JA: &str = include_str!("../../../extension/outlook/manifest/ja-jp.json");
const LOCALE_PL: &str = include_str!("../../../extension/outlook/manifest/pl-pl.json");
const COLOR_PNG: &[u8] = include_bytes!("../../../extension/outlook/assets/color.png");
const OUTLINE_PNG: &[u8] = include_bytes!("../../../extension/outlook/assets/outline.png");

/// The unified manifest's app package (what the admin center and sideloading take).
pub const PACKAGE_NAME: &str = "mailtrail-outlook.zip";

#[derive(clap::Args)]
pub struct Args {
    /// HTTPS URL the add-in files (dist/outlook) are served from, e.g. https://addins.example.com/mailtrail/
    #[arg(long)]
    pub base_url: String,
    /// Directory to write manifest.xml, manifest.json (+ localization files and icons) and the app package to.
    #[arg(long)]
    pub out: PathBuf,
}

/// The base URL, checked and normalised, and the parts the templates need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    /// `https://host[:port]/path/` (always ends with `/`).
    pub url: String,
    /// `https://host[:port]`
    pub origin: String,
    /// `host[:port]`
    pub host: String,
}

/// Checks the base URL the way Outlook needs it: HTTPS, no credentials, query or fragment, and
/// nothing that would have to be escaped inside a manifest. Lower-cases scheme and host, drops
/// the default port and adds the trailing slash, like the JavaScript renderer (WHATWG URL).
pub fn check_base_url(input: &str) -> Result<BaseUrl, String> {
    let text = input.trim();
    let example = "expected e.g. https://addins.example.com/mailtrail/";
    let (scheme, rest) = text
        .split_once("://")
        .ok_or_else(|| format!("the base URL {text:?} is not a URL ({example})"))?;
    if !scheme.eq_ignore_ascii_case("https") {
        return Err(format!(
            "the base URL must use https:// (Outlook only loads add-ins over HTTPS), got {text:?}"
        ));
    }
    if rest.contains(['?', '#']) {
        return Err("the base URL must not have a query (?…) or fragment (#…)".into());
    }
    if !text.is_ascii() {
        return Err(format!(
            "the base URL {text:?} contains non-ASCII characters: write the host in punycode (xn--…) and percent-encode the path"
        ));
    }
    if text.chars().any(|c| {
        c.is_ascii_whitespace()
            || c.is_ascii_control()
            || matches!(c, '&' | '\'' | '"' | '<' | '>' | '\\')
    }) {
        return Err(format!(
            "the base URL contains characters that cannot appear in a manifest: {text:?}"
        ));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.contains('@') {
        return Err("the base URL must not contain a user name or password".into());
    }
    let (host, port) = split_port(authority)?;
    if host.is_empty() {
        return Err(format!("the base URL {text:?} has no host ({example})"));
    }
    if path
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err("the base URL must not contain . or .. path segments".into());
    }
    let host = host.to_ascii_lowercase();
    let host_port = match port {
        Some(p) if p != 443 => format!("{host}:{p}"),
        _ => host,
    };
    let mut url = format!("https://{host_port}{path}");
    if !url.ends_with('/') {
        url.push('/');
    }
    if url.len() > 1900 {
        return Err(
            "the base URL is too long (manifest URLs are limited to 2048 characters)".into(),
        );
    }
    Ok(BaseUrl {
        origin: format!("https://{host_port}"),
        host: host_port,
        url,
    })
}

fn split_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let bad_port = |p: &str| format!("the base URL has an invalid port {p:?}");
    if let Some(v6) = authority.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .ok_or_else(|| "the base URL has an unclosed [IPv6] host".to_string())?;
        return match after.strip_prefix(':') {
            Some(p) if !p.is_empty() => Ok((
                &authority[..addr.len() + 2],
                Some(p.parse().map_err(|_| bad_port(p))?),
            )),
            Some(_) => Ok((&authority[..addr.len() + 2], None)),
            None if after.is_empty() => Ok((authority, None)),
            None => Err(format!("the base URL has an invalid host {authority:?}")),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, "")) => Ok((host, None)),
        Some((host, p)) => Ok((host, Some(p.parse().map_err(|_| bad_port(p))?))),
        None => Ok((authority, None)),
    }
}

/// Replaces `{{NAME}}` placeholders. An unknown placeholder is a template bug and an error.
pub fn fill(template: &str, vars: &[(&str, &str)]) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 1024);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or("unterminated {{ in a manifest template")?;
        let name = &after[..end];
        let value = vars
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("unknown placeholder {{{{{name}}}}} in a manifest template"))?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Every output file for `base`: `(file name, contents)`, the app package last.
pub fn render(base: &BaseUrl, version: &str) -> Result<Vec<(&'static str, Vec<u8>)>, String> {
    let vars = [
        ("BASE_URL", base.url.as_str()),
        ("ORIGIN", base.origin.as_str()),
        ("HOST", base.host.as_str()),
        ("VERSION", version),
    ];
    let mut files: Vec<(&'static str, Vec<u8>)> = vec![
        ("manifest.xml", fill(MANIFEST_XML, &vars)?.into_bytes()),
        ("manifest.json", fill(MANIFEST_JSON, &vars)?.into_bytes()),
        ("ja-jp.json", fill(LOCALE_JA, &vars)?.into_bytes()),
        ("pl-pl.json", fill(LOCALE_PL, &vars)?.into_bytes()),
        ("color.png", COLOR_PNG.to_vec()),
        ("outline.png", OUTLINE_PNG.to_vec()),
    ];
    // The app package: the unified manifest with its localization files and icons at the root.
    let entries: Vec<(&str, &[u8])> = files
        .iter()
        .filter(|(n, _)| *n != "manifest.xml")
        .map(|(n, d)| (*n, d.as_slice()))
        .collect();
    let package = zip_stored(&entries);
    files.push((PACKAGE_NAME, package));
    Ok(files)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Written {
    base_url: String,
    out: String,
    files: Vec<WrittenFile>,
}

#[derive(Serialize)]
struct WrittenFile {
    path: String,
    bytes: usize,
}

pub fn run(args: Args) -> CliResult {
    let base = check_base_url(&args.base_url).map_err(CliError::BadInput)?;
    let files = render(&base, env!("CARGO_PKG_VERSION")).map_err(CliError::Failed)?;
    write_all(&args.out, &files)?;
    print_json(&Written {
        base_url: base.url,
        out: args.out.display().to_string(),
        files: files
            .iter()
            .map(|(n, d)| WrittenFile {
                path: args.out.join(n).display().to_string(),
                bytes: d.len(),
            })
            .collect(),
    })
}

fn write_all(dir: &Path, files: &[(&str, Vec<u8>)]) -> Result<(), CliError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::Failed(format!("cannot create {}: {e}", dir.display())))?;
    for (name, data) in files {
        // Write to a temporary name and rename, so a reader never sees half a manifest.
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, data)
            .map_err(|e| CliError::Failed(format!("cannot write {}: {e}", tmp.display())))?;
        std::fs::rename(&tmp, &path)
            .map_err(|e| CliError::Failed(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(())
}

/// A ZIP archive with stored (uncompressed) entries: the package is a few kilobytes of JSON and
/// PNG, so compression buys nothing and this keeps the binary free of a zip dependency.
pub fn zip_stored(entries: &[(&str, &[u8])]) -> Vec<u8> {
    // 1980-01-01 00:00, the DOS epoch: a fixed timestamp keeps the package reproducible.
    const DOS_TIME: u16 = 0;
    const DOS_DATE: u16 = (1 << 5) | 1;
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let size = data.len() as u32;
        let header = |sig: u32, central: bool| {
            let mut h = Vec::with_capacity(46 + name.len());
            h.extend_from_slice(&sig.to_le_bytes());
            if central {
                h.extend_from_slice(&20u16.to_le_bytes()); // version made by
            }
            h.extend_from_slice(&20u16.to_le_bytes()); // version needed
            h.extend_from_slice(&0x0800u16.to_le_bytes()); // flags: UTF-8 names
            h.extend_from_slice(&0u16.to_le_bytes()); // method: stored
            h.extend_from_slice(&DOS_TIME.to_le_bytes());
            h.extend_from_slice(&DOS_DATE.to_le_bytes());
            h.extend_from_slice(&crc.to_le_bytes());
            h.extend_from_slice(&size.to_le_bytes());
            h.extend_from_slice(&size.to_le_bytes());
            h.extend_from_slice(&(name.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes()); // extra length
            if central {
                h.extend_from_slice(&0u16.to_le_bytes()); // comment length
                h.extend_from_slice(&0u16.to_le_bytes()); // disk number
                h.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
                h.extend_from_slice(&0u32.to_le_bytes()); // external attributes
                h.extend_from_slice(&offset.to_le_bytes());
            }
            h.extend_from_slice(name.as_bytes());
            h
        };
        out.extend_from_slice(&header(0x0403_4b50, false));
        out.extend_from_slice(data);
        central.extend_from_slice(&header(0x0201_4b50, true));
    }
    let central_offset = out.len() as u32;
    let central_size = central.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // this disk
    out.extend_from_slice(&0u16.to_le_bytes()); // disk with the central directory
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&central_size.to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // comment length
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in data {
        crc ^= byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                0xedb8_8320 ^ (crc >> 1)
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_is_normalised_like_whatwg_url() {
        let b = check_base_url(" HTTPS://Addins.Example.COM:443/mailtrail ").unwrap();
        assert_eq!(b.url, "https://addins.example.com/mailtrail/");
        assert_eq!(b.origin, "https://addins.example.com");
        assert_eq!(b.host, "addins.example.com");
        let b = check_base_url("https://localhost:8443/addin/").unwrap();
        assert_eq!(
            (b.url.as_str(), b.host.as_str()),
            ("https://localhost:8443/addin/", "localhost:8443")
        );
        assert_eq!(
            check_base_url("https://[::1]:3000").unwrap().url,
            "https://[::1]:3000/"
        );
        assert_eq!(
            check_base_url("https://host.example").unwrap().url,
            "https://host.example/"
        );
    }

    #[test]
    fn base_url_errors_say_what_to_fix() {
        for (input, needle) in [
            ("http://addins.example.com/", "https://"),
            ("addins.example.com/x/", "not a URL"),
            ("https://user:pw@addins.example.com/", "user name"),
            ("https://addins.example.com/?a=1", "query"),
            ("https://addins.example.com/a&b/", "cannot appear"),
            ("https://addins.example.com/a b/", "cannot appear"),
            ("https://bücher.example/", "punycode"),
            ("https://addins.example.com:99999/", "port"),
            ("https:///path/", "no host"),
            ("https://addins.example.com/a/../b/", ".."),
        ] {
            let err = check_base_url(input).unwrap_err();
            assert!(err.contains(needle), "{input}: {err}");
        }
    }

    #[test]
    fn every_placeholder_is_filled_and_every_url_uses_the_base() {
        let base = check_base_url("https://addins.example.com/mailtrail/").unwrap();
        let files = render(&base, "1.2.3").unwrap();
        for (name, data) in &files {
            if name.ends_with(".xml") || name.ends_with(".json") {
                let text = std::str::from_utf8(data).unwrap();
                assert!(!text.contains("{{"), "{name} still has a placeholder");
                for (i, _) in text.match_indices("https://") {
                    let url = &text[i..];
                    let ok = url.starts_with("https://addins.example.com/mailtrail/")
                        || url.starts_with("https://addins.example.com<")
                        || url.starts_with("https://developer.microsoft.com/json-schemas/");
                    assert!(ok, "{name}: {}", &url[..url.len().min(80)]);
                }
            }
        }
        let xml = std::str::from_utf8(&files[0].1).unwrap();
        assert!(xml.contains("<Version>1.2.3.0</Version>"));
        assert!(xml.contains("<AppDomain>https://addins.example.com</AppDomain>"));
        let json: serde_json::Value = serde_json::from_slice(&files[1].1).unwrap();
        assert_eq!(json["version"], "1.2.3");
        assert_eq!(json["validDomains"][0], "addins.example.com");
    }

    #[test]
    fn fill_rejects_unknown_placeholders() {
        assert_eq!(fill("a{{X}}b{{X}}", &[("X", "1")]).unwrap(), "a1b1");
        assert!(fill("{{Y}}", &[("X", "1")]).unwrap_err().contains("{{Y}}"));
        assert!(fill("{{X", &[("X", "1")]).is_err());
    }

    #[test]
    fn zip_entries_have_correct_crc_and_layout() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        let zip = zip_stored(&[("a.txt", b"hello"), ("b.json", b"{}")]);
        assert_eq!(&zip[..4], &[0x50, 0x4b, 0x03, 0x04]);
        // End of central directory: 2 entries.
        let eocd = zip.len() - 22;
        assert_eq!(&zip[eocd..eocd + 4], &[0x50, 0x4b, 0x05, 0x06]);
        assert_eq!(u16::from_le_bytes([zip[eocd + 10], zip[eocd + 11]]), 2);
        let cd_offset = u32::from_le_bytes(zip[eocd + 16..eocd + 20].try_into().unwrap()) as usize;
        assert_eq!(&zip[cd_offset..cd_offset + 4], &[0x50, 0x4b, 0x01, 0x02]);
    }
}
