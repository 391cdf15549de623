//! Builders for the static schema tables.
//!
//! Every attribute starts from the RFC 7643 §7 defaults (single-valued, optional, caseExact
//! false, readWrite, returned default, uniqueness none) and states only where it differs.

use super::model::{AttrType, Attribute, Mutability, Returned, Uniqueness};

pub(super) const fn attribute(
    name: &'static str,
    ty: AttrType,
    description: &'static str,
) -> Attribute {
    Attribute {
        name,
        ty,
        multi_valued: false,
        description,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: &[],
    }
}

pub(super) const fn string(name: &'static str, description: &'static str) -> Attribute {
    attribute(name, AttrType::String, description)
}

pub(super) const fn boolean(name: &'static str, description: &'static str) -> Attribute {
    attribute(name, AttrType::Boolean, description)
}

pub(super) const fn binary(name: &'static str, description: &'static str) -> Attribute {
    attribute(name, AttrType::Binary, description)
}

pub(super) const fn date_time(name: &'static str, description: &'static str) -> Attribute {
    attribute(name, AttrType::DateTime, description)
}

pub(super) const fn reference(
    name: &'static str,
    description: &'static str,
    reference_types: &'static [&'static str],
) -> Attribute {
    let mut a = attribute(name, AttrType::Reference, description);
    a.reference_types = reference_types;
    a
}

pub(super) const fn complex(
    name: &'static str,
    description: &'static str,
    sub_attributes: &'static [Attribute],
) -> Attribute {
    let mut a = attribute(name, AttrType::Complex, description);
    a.sub_attributes = sub_attributes;
    a
}

impl Attribute {
    pub(super) const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }

    pub(super) const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub(super) const fn exact(mut self) -> Self {
        self.case_exact = true;
        self
    }

    pub(super) const fn read_only(mut self) -> Self {
        self.mutability = Mutability::ReadOnly;
        self
    }

    pub(super) const fn immutable(mut self) -> Self {
        self.mutability = Mutability::Immutable;
        self
    }

    pub(super) const fn write_only(mut self) -> Self {
        self.mutability = Mutability::WriteOnly;
        self
    }

    pub(super) const fn returned_always(mut self) -> Self {
        self.returned = Returned::Always;
        self
    }

    pub(super) const fn returned_never(mut self) -> Self {
        self.returned = Returned::Never;
        self
    }

    pub(super) const fn unique_server(mut self) -> Self {
        self.uniqueness = Uniqueness::Server;
        self
    }

    pub(super) const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }
}
