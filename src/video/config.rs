//! The `[video]` config section: which video provider live lessons hand
//! off to, where it lives, and the app credentials its tokens are signed
//! with. `Config` in `config.rs` holds it as `video`; every key is in
//! README.md's config table.

use serde::{Deserialize, Serialize};

/// Which video service a lesson's participants are sent to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoProvider {
    /// Jitsi Meet: the public meet.jit.si (no tokens) or a self-hosted
    /// deployment with token authentication (app id and secret set).
    Jitsi,
    /// No video: lessons get no handoff. The default, so a deployment
    /// opts in rather than sending families to a third party unasked.
    #[default]
    None,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct VideoConfig {
    pub provider: VideoProvider,
    /// The deployment's root, e.g. `https://meet.example.org`; its host is
    /// the token's `sub` (the meeting domain).
    pub base_url: String,
    /// Token authentication's application id (the token's `iss`); tokens
    /// are issued only when this and `app_secret` are both set.
    pub app_id: Option<String>,
    /// Token authentication's shared HS256 secret. Never logged: Debug
    /// redacts it.
    pub app_secret: Option<String>,
}

impl Default for VideoConfig {
    fn default() -> Self {
        Self {
            provider: VideoProvider::None,
            base_url: "https://meet.jit.si".into(),
            app_id: None,
            app_secret: None,
        }
    }
}

impl std::fmt::Debug for VideoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoConfig")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("app_id", &self.app_id)
            .field(
                "app_secret",
                &self.app_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl VideoConfig {
    /// The app id and secret when both are set and non-empty (an empty
    /// environment variable counts as unset, not as an empty key).
    pub(crate) fn credentials(&self) -> Option<(&str, &str)> {
        let id = self.app_id.as_deref().filter(|s| !s.is_empty())?;
        let secret = self.app_secret.as_deref().filter(|s| !s.is_empty())?;
        Some((id, secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use crate::config::Config;
    use clap::Parser;

    #[test]
    fn defaults_are_off_and_point_at_the_public_jitsi() {
        let c = VideoConfig::default();
        assert_eq!(c.provider, VideoProvider::None);
        assert_eq!(c.base_url, "https://meet.jit.si");
        assert!(c.credentials().is_none());
    }

    #[test]
    fn debug_redacts_the_app_secret() {
        let c = VideoConfig {
            provider: VideoProvider::Jitsi,
            app_id: Some("cms".into()),
            app_secret: Some("hunter2-very-secret".into()),
            ..VideoConfig::default()
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2-very-secret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(shown.contains("cms"), "the app id is not a secret: {shown}");
    }

    #[test]
    fn empty_credentials_count_as_unset() {
        let c = VideoConfig {
            app_id: Some("cms".into()),
            app_secret: Some(String::new()),
            ..VideoConfig::default()
        };
        assert!(c.credentials().is_none());
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API
    fn loads_from_file_and_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "cms.toml",
                "[video]\nprovider = \"jitsi\"\nbase_url = \"https://meet.example.org\"\n",
            )?;
            jail.set_env("CMS_VIDEO_APP_ID", "cms");
            jail.set_env("CMS_VIDEO_APP_SECRET", "from-env");
            let cli = Cli::parse_from(["cms-server"]);
            let c = Config::load(&cli).map_err(|e| e.to_string())?;
            assert_eq!(c.video.provider, VideoProvider::Jitsi);
            assert_eq!(c.video.base_url, "https://meet.example.org");
            assert_eq!(c.video.credentials(), Some(("cms", "from-env")));
            Ok(())
        });
    }
}
