//! `rediss://`: a Redis cache over TLS, against a server with a certificate from a test
//! certificate authority, which the client trusts through `SSL_CERT_FILE`.
//!
//! This file holds a single test because it sets a process-wide environment variable.
#![cfg(feature = "tls")]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use cached_core::{Cache, CacheConfig};
use cached_tests::redis_server::{PATIENT, RedisServer};

fn openssl(dir: &Path, args: &[&str]) {
    let output = match Command::new("openssl").current_dir(dir).args(args).output() {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            panic!(
                "openssl is not installed; run `apt-get install -y openssl` (scripts/test does it for you)"
            )
        }
        Err(error) => panic!("cannot run openssl: {error}"),
    };
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A certificate authority and a server certificate for 127.0.0.1 it signed, in `dir`.
fn certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "1", "-subj", "/CN=cached-tests CA"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.crt"]);
    ca.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
    ca.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    openssl(dir, &ca);
    let mut csr = vec!["req", "-subj", "/CN=127.0.0.1"];
    csr.extend(ec);
    csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
    openssl(dir, &csr);
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ],
    );
}

#[tokio::test]
async fn a_rediss_cache_talks_tls_to_a_server_it_trusts() {
    let dir = std::env::temp_dir().join(format!("cached-tests-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    certificates(&dir);
    // SAFETY: the only test of this binary, set before anything reads the environment.
    unsafe { std::env::set_var("SSL_CERT_FILE", dir.join("ca.crt")) };
    let (server, tls_port) =
        RedisServer::start_tls(&dir.join("server.crt"), &dir.join("server.key"));

    let cache = Cache::new(
        "tls",
        &CacheConfig::redis(&format!("rediss://127.0.0.1:{tls_port}/0"))
            .with_connect_timeout(PATIENT)
            .with_response_timeout(PATIENT),
    )
    .unwrap();
    cache
        .set("secret", "over tls", Some(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(server.cli(&["GET", "secret"]), "\"over tls\"");
    assert_eq!(
        cache.get::<String>("secret").await.unwrap().as_deref(),
        Some("over tls")
    );

    let plain_text_speaker = Cache::new(
        "plain",
        &CacheConfig::redis(&format!("redis://127.0.0.1:{tls_port}/0"))
            .with_connect_timeout(Duration::from_millis(500))
            .with_response_timeout(Duration::from_millis(500)),
    )
    .unwrap();
    assert!(
        plain_text_speaker.get::<String>("secret").await.is_err(),
        "the TLS port refuses plain text"
    );

    let wrong_name = Cache::new(
        "wrong-name",
        &CacheConfig::redis(&format!("rediss://localhost:{tls_port}/0"))
            .with_connect_timeout(PATIENT)
            .with_response_timeout(PATIENT),
    )
    .unwrap();
    assert!(
        wrong_name.get::<String>("secret").await.is_err(),
        "the certificate is for 127.0.0.1, not localhost: verification is on"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
