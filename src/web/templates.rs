//! Page templates: minijinja, loaded from the custom templates folder first (so users can
//! override any page, as with authentik's `/templates`) and from the embedded assets.

use std::path::PathBuf;
use std::sync::Arc;

use minijinja::Environment;
use rust_embed::RustEmbed;
use serde::Serialize;

#[derive(RustEmbed)]
#[folder = "assets/templates/"]
struct EmbeddedTemplates;

#[derive(Clone)]
pub struct Templates {
    env: Arc<Environment<'static>>,
}

impl Templates {
    /// `custom_dir`: templates found there win over the built-in ones.
    pub fn new(custom_dir: Option<PathBuf>) -> Templates {
        let mut env = Environment::new();
        env.set_loader(move |name: &str| {
            if name.contains("..") {
                return Ok(None);
            }
            if let Some(dir) = &custom_dir {
                if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
                    return Ok(Some(text));
                }
            }
            Ok(EmbeddedTemplates::get(name)
                .and_then(|file| String::from_utf8(file.data.into_owned()).ok()))
        });
        Templates { env: Arc::new(env) }
    }

    pub fn render<C: Serialize>(&self, name: &str, context: C) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(context)
    }
}
