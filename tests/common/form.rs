//! `multipart/form-data` requests, built by hand so a test controls every
//! byte (a traversal name, a declared type that lies).

use serde_json::Value;

use super::{TestApp, User};

/// One part: (field, filename for a file part, bytes).
pub type Part<'a> = (&'a str, Option<&'a str>, &'a [u8]);

/// The body and its `Content-Type`. File parts claim to be PDFs whatever
/// they hold: the server must not believe it.
pub fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = "cms-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, filename, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let head = match filename {
            Some(f) => format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/pdf\r\n\r\n"
            ),
            None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
        };
        body.extend_from_slice(head.as_bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// POSTs a form as `who`; the status and the JSON answer.
pub async fn post_form(app: &TestApp, path: &str, who: &User, parts: &[Part<'_>]) -> (u16, Value) {
    let (content_type, body) = multipart(parts);
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", app.base))
        .bearer_auth(&who.token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json"))
}

/// GETs a file as `who`.
pub async fn download(app: &TestApp, who: &User, file_id: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/api/v1/files/{file_id}", app.base))
        .bearer_auth(&who.token)
        .send()
        .await
        .expect("sent")
}
