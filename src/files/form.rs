//! Reading a `multipart/form-data` upload under limits, part by part, so an
//! oversized body is refused as soon as it passes a limit — never read
//! whole first. Text parts are small fields (a title, a date); parts with a
//! filename are files.

use std::collections::HashMap;

use actix_multipart::Multipart;
use futures_util::StreamExt;

/// What one request may carry.
#[derive(Debug, Clone, Copy)]
pub struct FormLimits {
    pub file_bytes: usize,
    pub request_bytes: usize,
    pub files: usize,
}

/// Text fields are short: a title, a date, a certificate number, a reason.
const TEXT_FIELD_BYTES: usize = 8 * 1024;
const TEXT_FIELDS: usize = 32;

/// One uploaded file as sent: the name only to show, the bytes to sniff.
#[derive(Debug)]
pub struct Upload {
    pub field: String,
    pub sent_name: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct Form {
    pub text: HashMap<String, String>,
    pub files: Vec<Upload>,
}

impl Form {
    pub fn text(&self, name: &str) -> Option<&str> {
        self.text
            .get(name)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FormError {
    #[error("a file may be at most {0} bytes")]
    FileTooLarge(usize),
    #[error("an upload may be at most {0} bytes in all")]
    RequestTooLarge(usize),
    #[error("at most {0} files per upload")]
    TooManyFiles(usize),
    #[error("the form field {0:?} is too long")]
    FieldTooLong(String),
    #[error("too many form fields")]
    TooManyFields,
    #[error("the form field {0:?} is not UTF-8 text")]
    NotText(String),
    #[error("the body is not a readable multipart/form-data upload: {0}")]
    Malformed(String),
}

/// Reads every part of `body`, stopping at the first limit passed.
pub async fn read_form(mut body: Multipart, limits: FormLimits) -> Result<Form, FormError> {
    let mut form = Form::default();
    let mut total = 0usize;
    while let Some(part) = body.next().await {
        let mut part = part.map_err(|e| FormError::Malformed(e.to_string()))?;
        let (name, filename) = match part.content_disposition() {
            Some(cd) => (
                cd.get_name().unwrap_or_default().to_owned(),
                cd.get_filename().map(str::to_owned),
            ),
            None => (String::new(), None),
        };
        if filename.is_some() && form.files.len() == limits.files {
            return Err(FormError::TooManyFiles(limits.files));
        }
        if filename.is_none() && form.text.len() == TEXT_FIELDS {
            return Err(FormError::TooManyFields);
        }
        let cap = if filename.is_some() {
            limits.file_bytes
        } else {
            TEXT_FIELD_BYTES
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = part.next().await {
            let chunk = chunk.map_err(|e| FormError::Malformed(e.to_string()))?;
            total += chunk.len();
            if total > limits.request_bytes {
                return Err(FormError::RequestTooLarge(limits.request_bytes));
            }
            if bytes.len() + chunk.len() > cap {
                return Err(match filename {
                    Some(_) => FormError::FileTooLarge(limits.file_bytes),
                    None => FormError::FieldTooLong(name),
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        match filename {
            Some(sent_name) => form.files.push(Upload {
                field: name,
                sent_name,
                bytes,
            }),
            None => {
                let text =
                    String::from_utf8(bytes).map_err(|_| FormError::NotText(name.clone()))?;
                form.text.insert(name, text);
            }
        }
    }
    Ok(form)
}
