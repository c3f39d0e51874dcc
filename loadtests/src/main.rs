//! `cms-loadtest`: for now, a probe that connects, sends one heartbeat and
//! prints the round trip. The full load generator is its own issue.

use std::time::Instant;

use cms_loadtest::{PhxClient, socket_url};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut url, mut token) = (String::from("http://127.0.0.1:4000"), None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--url" => url = args.next().unwrap_or(url),
            "--token" => token = args.next(),
            other => {
                eprintln!(
                    "unknown argument {other}; usage: cms-loadtest --url http://HOST:PORT --token TOKEN"
                );
                return std::process::ExitCode::from(2);
            }
        }
    }
    let Some(token) = token else {
        eprintln!("usage: cms-loadtest --url http://HOST:PORT --token TOKEN");
        return std::process::ExitCode::from(2);
    };
    let result = async {
        let client = PhxClient::connect(&socket_url(&url, &token)).await?;
        let t0 = Instant::now();
        client.heartbeat().await?;
        println!("heartbeat round trip: {:?}", t0.elapsed());
        client.close().await;
        Ok::<_, cms_loadtest::ClientError>(())
    }
    .await;
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
