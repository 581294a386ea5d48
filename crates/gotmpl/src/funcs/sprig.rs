//! Sprig v3 (`sprig.TxtFuncMap()`), as Helm 3 ships it.

use std::collections::HashMap;

use crate::Function;

pub(super) fn register(_m: &mut HashMap<String, Function>) {}
