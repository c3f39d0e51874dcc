//! The bare baseline carries the chat scenario: it is only a ceiling if
//! it delivers everything the CMS server must.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use cms_loadtest::scenario::{self, Server};
use cms_loadtest::world::{Target, World};

struct Bare(std::process::Child);

impl Drop for Bare {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bare_baseline_fans_out_every_message_to_every_member() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cms-bare"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("cms-bare starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    let bare = Bare(child);
    let world = Arc::new(World::synthetic(Target::Bare, &url, 20, 4));
    let o = scenario::chat::ChatOptions {
        rate: 200.0,
        secs: 1.0,
        ..Default::default()
    };
    let server = Server {
        pid: Some(bare.0.id()),
    };
    let reports = scenario::chat::run(world, server, &o).await.unwrap();
    let r = &reports[0];
    assert!(r.passed(), "{}", r.summary());
    assert_eq!(r.tally.acked, 200);
    assert_eq!(r.tally.delivered, 200 * 4);
    assert!(r.server_rss_kib.unwrap() > 0);
}
