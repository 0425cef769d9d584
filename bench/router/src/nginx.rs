//! nginx doing what the router does in the benchmark: a weighted split of requests between two
//! revisions with `split_clients`, over keep-alive connections to each.

use std::fmt::Write;
use std::net::SocketAddr;
use std::path::Path;

/// The configuration: `weight` percent of requests to `candidate`, the rest to `stable`, with
/// as many workers as the router has threads (one per core).
pub fn config(
    prefix: &Path,
    listen: SocketAddr,
    stable: SocketAddr,
    candidate: SocketAddr,
    weight: u8,
) -> String {
    let prefix = prefix.display();
    let mut config = String::new();
    // Writing to a String cannot fail.
    let _ = write!(
        config,
        r#"worker_processes auto;
pid {prefix}/nginx.pid;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream stable {{ server {stable}; keepalive 256; }}
    upstream candidate {{ server {candidate}; keepalive 256; }}
    # A fresh random string per request, so the split is per request like the router's.
    split_clients "$request_id" $revision {{
        {weight}% candidate;
        * stable;
    }}
    server {{
        listen {listen} reuseport;
        keepalive_requests 100000;
        location / {{
            proxy_pass http://$revision;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"#
    );
    config
}
