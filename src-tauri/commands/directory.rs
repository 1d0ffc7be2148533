//! The county directory for the UI: the names it localises from codes (one
//! place: `ui/js/counties.js`) and each county's health check (the county
//! page's 測試服務是否正常?) that marks a county in the picker.

use std::sync::Arc;

use educloud_core::contract::county::COUNTIES;
use educloud_core::desktop::Desktop;
use educloud_core::directory::CountyDirectory;
use educloud_core::oidc::{self, CountyHealth};
use serde::Serialize;
use tauri::State;

use crate::dto::CmdResult;

/// A county's names (the UI picks the language).
#[derive(Debug, Serialize)]
pub struct CountyNameDto {
    pub code: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
}

/// The built-in county names, known without the network (the picker's
/// listing adds the service's and the policy's names).
#[tauri::command]
#[tracing::instrument]
pub fn county_names() -> Vec<CountyNameDto> {
    COUNTIES
        .iter()
        .map(|c| CountyNameDto {
            code: c.code,
            name_zh: c.name_zh,
            name_en: c.name_en,
        })
        .collect()
}

/// Whether a county's Open ID service answers (metadata, issuer, keys).
/// A failing county stays selectable: the check only informs.
#[tauri::command]
#[tracing::instrument(skip(desktop))]
pub async fn check_county(
    desktop: State<'_, Arc<Desktop>>,
    county: String,
) -> CmdResult<CountyHealth> {
    let directory = CountyDirectory::load(&desktop).await?;
    Ok(oidc::check_county(&desktop, directory.get(&county)?).await)
}
