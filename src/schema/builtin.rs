//! Schemas and tags of common ATen operators, so that hand-written dumps may
//! leave out `operators` and `operator_tags`.
//!
//! Texts are exactly as PyTorch prints them (`str(op._schema)`). Tags are
//! limited to the ones the analyses read: `inplace`, `inplace_view`, `out`,
//! `view_copy`, sorted as in a dump.

use std::sync::OnceLock;

use super::Schema;

/// Built-in schema text of the operator a node target names
/// (`aten.add_.Tensor`).
pub fn builtin_schema(target: &str) -> Option<&'static str> {
    lookup(target).map(|op| op.schema)
}

/// The parsed built-in schema of the operator a node target names. Each
/// entry is parsed once per process, the first time any is asked for.
pub fn builtin_parsed(target: &str) -> Option<&'static Schema> {
    static PARSED: OnceLock<Vec<Option<Schema>>> = OnceLock::new();
    let parsed = PARSED.get_or_init(|| {
        BUILTINS
            .iter()
            .map(|op| Schema::parse(op.schema).ok())
            .collect()
    });
    let index = lookup_index(target)?;
    parsed.get(index)?.as_ref()
}

/// Built-in tags (among `inplace`, `inplace_view`, `out`, `view_copy`) of the
/// operator a node target names.
pub fn builtin_tags(target: &str) -> Option<&'static [&'static str]> {
    lookup(target).map(|op| op.tags)
}

struct Builtin {
    schema: &'static str,
    tags: &'static [&'static str],
}

const fn op(schema: &'static str, tags: &'static [&'static str]) -> Builtin {
    Builtin { schema, tags }
}

const NONE: &[&str] = &[];
const INPLACE: &[&str] = &["inplace"];
const INPLACE_VIEW: &[&str] = &["inplace", "inplace_view"];
const OUT: &[&str] = &["out"];
const VIEW_COPY: &[&str] = &["view_copy"];

/// A target `ns.name.overload` names the schema whose text starts with
/// `ns::name.overload(`, or `ns::name(` for the overload `default`. Matching
/// on the text keeps target and schema from ever disagreeing; a linear scan
/// of a table this size costs nothing next to parsing the schema.
fn lookup(target: &str) -> Option<&'static Builtin> {
    BUILTINS.get(lookup_index(target)?)
}

/// [`lookup`]'s position in the table.
fn lookup_index(target: &str) -> Option<usize> {
    let (namespace, rest) = target.split_once('.')?;
    let (name, overload) = rest.rsplit_once('.')?;
    BUILTINS.iter().position(|op| {
        let head = op.schema.split_once('(').map_or("", |(head, _)| head);
        let Some(qualified) = head
            .strip_prefix(namespace)
            .and_then(|h| h.strip_prefix("::"))
        else {
            return false;
        };
        match qualified.split_once('.') {
            Some((op_name, op_overload)) => op_name == name && op_overload == overload,
            None => qualified == name && overload == "default",
        }
    })
}

#[rustfmt::skip]
static BUILTINS: &[Builtin] = &[
    // Arithmetic.
    op("aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor", NONE),
    op("aten::add.Scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor", NONE),
    op("aten::add.out(Tensor self, Tensor other, *, Scalar alpha=1, Tensor(a!) out) -> Tensor(a!)", OUT),
    op("aten::add_.Tensor(Tensor(a!) self, Tensor other, *, Scalar alpha=1) -> Tensor(a!)", INPLACE),
    op("aten::add_.Scalar(Tensor(a!) self, Scalar other, Scalar alpha=1) -> Tensor(a!)", INPLACE),
    op("aten::sub.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor", NONE),
    op("aten::sub.Scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor", NONE),
    op("aten::sub.out(Tensor self, Tensor other, *, Scalar alpha=1, Tensor(a!) out) -> Tensor(a!)", OUT),
    op("aten::sub_.Tensor(Tensor(a!) self, Tensor other, *, Scalar alpha=1) -> Tensor(a!)", INPLACE),
    op("aten::sub_.Scalar(Tensor(a!) self, Scalar other, Scalar alpha=1) -> Tensor(a!)", INPLACE),
    op("aten::rsub.Scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor", NONE),
    op("aten::mul.Tensor(Tensor self, Tensor other) -> Tensor", NONE),
    op("aten::mul.Scalar(Tensor self, Scalar other) -> Tensor", NONE),
    op("aten::mul.out(Tensor self, Tensor other, *, Tensor(a!) out) -> Tensor(a!)", OUT),
    op("aten::mul_.Tensor(Tensor(a!) self, Tensor other) -> Tensor(a!)", INPLACE),
    op("aten::mul_.Scalar(Tensor(a!) self, Scalar other) -> Tensor(a!)", INPLACE),
    op("aten::div.Tensor(Tensor self, Tensor other) -> Tensor", NONE),
    op("aten::div.Scalar(Tensor self, Scalar other) -> Tensor", NONE),
    op("aten::div.out(Tensor self, Tensor other, *, Tensor(a!) out) -> Tensor(a!)", OUT),
    op("aten::div_.Tensor(Tensor(a!) self, Tensor other) -> Tensor(a!)", INPLACE),
    op("aten::div_.Scalar(Tensor(a!) self, Scalar other) -> Tensor(a!)", INPLACE),
    op("aten::pow.Tensor_Scalar(Tensor self, Scalar exponent) -> Tensor", NONE),
    op("aten::pow.Tensor_Tensor(Tensor self, Tensor exponent) -> Tensor", NONE),
    op("aten::pow_.Scalar(Tensor(a!) self, Scalar exponent) -> Tensor(a!)", INPLACE),
    op("aten::addcmul(Tensor self, Tensor tensor1, Tensor tensor2, *, Scalar value=1) -> Tensor", NONE),
    op("aten::addcmul_(Tensor(a!) self, Tensor tensor1, Tensor tensor2, *, Scalar value=1) -> Tensor(a!)", INPLACE),
    op("aten::addcdiv(Tensor self, Tensor tensor1, Tensor tensor2, *, Scalar value=1) -> Tensor", NONE),
    op("aten::addcdiv_(Tensor(a!) self, Tensor tensor1, Tensor tensor2, *, Scalar value=1) -> Tensor(a!)", INPLACE),
    op("aten::lerp_.Scalar(Tensor(a!) self, Tensor end, Scalar weight) -> Tensor(a!)", INPLACE),
    op("aten::clamp(Tensor self, Scalar? min=None, Scalar? max=None) -> Tensor", NONE),
    op("aten::clamp.Tensor(Tensor self, Tensor? min=None, Tensor? max=None) -> Tensor", NONE),
    op("aten::clamp_(Tensor(a!) self, Scalar? min=None, Scalar? max=None) -> Tensor(a!)", INPLACE),
    op("aten::clamp_.Tensor(Tensor(a!) self, Tensor? min=None, Tensor? max=None) -> Tensor(a!)", INPLACE),
    op("aten::where.self(Tensor condition, Tensor self, Tensor other) -> Tensor", NONE),
    op("aten::eq.Scalar(Tensor self, Scalar other) -> Tensor", NONE),
    op("aten::eq.Tensor(Tensor self, Tensor other) -> Tensor", NONE),
    op("aten::ne.Scalar(Tensor self, Scalar other) -> Tensor", NONE),
    op("aten::gt.Scalar(Tensor self, Scalar other) -> Tensor", NONE),
    op("aten::lt.Scalar(Tensor self, Scalar other) -> Tensor", NONE),
    op("aten::logical_not(Tensor self) -> Tensor", NONE),
    // Unary pointwise.
    op("aten::neg(Tensor self) -> Tensor", NONE),
    op("aten::neg_(Tensor(a!) self) -> Tensor(a!)", INPLACE),
    op("aten::abs(Tensor self) -> Tensor", NONE),
    op("aten::abs_(Tensor(a!) self) -> Tensor(a!)", INPLACE),
    op("aten::exp(Tensor self) -> Tensor", NONE),
    op("aten::exp_(Tensor(a!) self) -> Tensor(a!)", INPLACE),
    op("aten::log(Tensor self) -> Tensor", NONE),
    op("aten::log_(Tensor(a!) self) -> Tensor(a!)", INPLACE),
    op("aten::sqrt(Tensor self) -> Tensor", NONE),
    op("aten::sqrt_(Tensor(a!) self) -> Tensor(a!)", INPLACE),
    op("aten::rsqrt(Tensor self) -> Tensor", NONE),
    op("aten::rsqrt_(Tensor(a!) self) -> Tensor(a!)", INPLACE),
    op("aten::reciprocal(Tensor self) -> Tensor", NONE),
    op("aten::sin(Tensor self) -> Tensor", NONE),
    op("aten::cos(Tensor self) -> Tensor", NONE),
    op("aten::sigmoid(Tensor self) -> Tensor", NONE),
    op("aten::sigmoid_(Tensor(a!) self) -> Tensor(a!)", INPLACE),
    op("aten::tanh(Tensor self) -> Tensor", NONE),
    op("aten::tanh_(Tensor(a!) self) -> Tensor(a!)", INPLACE),
    op("aten::relu(Tensor self) -> Tensor", NONE),
    op("aten::relu_(Tensor(a!) self) -> Tensor(a!)", INPLACE),
    op("aten::gelu(Tensor self, *, str approximate=\"none\") -> Tensor", NONE),
    op("aten::gelu_(Tensor(a!) self, *, str approximate=\"none\") -> Tensor(a!)", INPLACE),
    // Copies and fills.
    op("aten::clone(Tensor self, *, MemoryFormat? memory_format=None) -> Tensor", NONE),
    op("aten::copy(Tensor self, Tensor src, bool non_blocking=False) -> Tensor", NONE),
    op("aten::copy_(Tensor(a!) self, Tensor src, bool non_blocking=False) -> Tensor(a!)", INPLACE),
    op("aten::_to_copy(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None, bool non_blocking=False, MemoryFormat? memory_format=None) -> Tensor", NONE),
    op("aten::lift_fresh_copy(Tensor self) -> Tensor", NONE),
    op("aten::fill.Scalar(Tensor self, Scalar value) -> Tensor", NONE),
    op("aten::fill.Tensor(Tensor self, Tensor value) -> Tensor", NONE),
    op("aten::fill_.Scalar(Tensor(a!) self, Scalar value) -> Tensor(a!)", INPLACE),
    op("aten::fill_.Tensor(Tensor(a!) self, Tensor value) -> Tensor(a!)", INPLACE),
    op("aten::zero_(Tensor(a!) self) -> Tensor(a!)", INPLACE),
    // Factories.
    op("aten::empty.memory_format(SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor", NONE),
    op("aten::empty_strided(SymInt[] size, SymInt[] stride, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor", NONE),
    op("aten::empty_like(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor", NONE),
    op("aten::zeros(SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor", NONE),
    op("aten::zeros_like(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor", NONE),
    op("aten::ones(SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor", NONE),
    op("aten::ones_like(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor", NONE),
    op("aten::full(SymInt[] size, Scalar fill_value, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor", NONE),
    op("aten::full_like(Tensor self, Scalar fill_value, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor", NONE),
    op("aten::scalar_tensor(Scalar s, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor", NONE),
    op("aten::arange(Scalar end, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor", NONE),
    op("aten::arange.start(Scalar start, Scalar end, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor", NONE),
    op("aten::arange.start_step(Scalar start, Scalar end, Scalar step=1, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor", NONE),
    // Views.
    op("aten::view(Tensor(a) self, SymInt[] size) -> Tensor(a)", NONE),
    op("aten::view.dtype(Tensor(a) self, ScalarType dtype) -> Tensor(a)", NONE),
    op("aten::_unsafe_view(Tensor self, SymInt[] size) -> Tensor", NONE),
    op("aten::_reshape_alias(Tensor(a) self, SymInt[] size, SymInt[] stride) -> Tensor(a)", NONE),
    op("aten::alias(Tensor(a) self) -> Tensor(a)", NONE),
    op("aten::as_strided(Tensor(a) self, SymInt[] size, SymInt[] stride, SymInt? storage_offset=None) -> Tensor(a)", NONE),
    op("aten::detach(Tensor(a) self) -> Tensor(a)", NONE),
    op("aten::diagonal(Tensor(a) self, int offset=0, int dim1=0, int dim2=1) -> Tensor(a)", NONE),
    op("aten::expand(Tensor(a) self, SymInt[] size, *, bool implicit=False) -> Tensor(a)", NONE),
    op("aten::expand_as(Tensor(a) self, Tensor other) -> Tensor(a)", NONE),
    op("aten::view_as(Tensor(a) self, Tensor other) -> Tensor(a)", NONE),
    op("aten::lift_fresh(Tensor(a) self) -> Tensor(a)", NONE),
    op("aten::narrow(Tensor(a) self, int dim, SymInt start, SymInt length) -> Tensor(a)", NONE),
    op("aten::permute(Tensor(a) self, int[] dims) -> Tensor(a)", NONE),
    op("aten::select.int(Tensor(a) self, int dim, SymInt index) -> Tensor(a)", NONE),
    op("aten::slice.Tensor(Tensor(a) self, int dim=0, SymInt? start=None, SymInt? end=None, SymInt step=1) -> Tensor(a)", NONE),
    op("aten::squeeze(Tensor(a) self) -> Tensor(a)", NONE),
    op("aten::squeeze.dim(Tensor(a) self, int dim) -> Tensor(a)", NONE),
    op("aten::squeeze.dims(Tensor(a) self, int[] dim) -> Tensor(a)", NONE),
    op("aten::unsqueeze(Tensor(a) self, int dim) -> Tensor(a)", NONE),
    op("aten::swapaxes(Tensor(a) self, int axis0, int axis1) -> Tensor(a)", NONE),
    op("aten::swapdims(Tensor(a) self, int dim0, int dim1) -> Tensor(a)", NONE),
    op("aten::t(Tensor(a) self) -> Tensor(a)", NONE),
    op("aten::transpose.int(Tensor(a) self, int dim0, int dim1) -> Tensor(a)", NONE),
    op("aten::unfold(Tensor(a) self, int dimension, int size, int step) -> Tensor(a)", NONE),
    op("aten::view_as_real(Tensor(a) self) -> Tensor(a)", NONE),
    op("aten::view_as_complex(Tensor(a) self) -> Tensor(a)", NONE),
    op("aten::real(Tensor(a) self) -> Tensor(a)", NONE),
    op("aten::imag(Tensor(a) self) -> Tensor(a)", NONE),
    op("aten::unbind.int(Tensor(a -> *) self, int dim=0) -> Tensor(a)[]", NONE),
    op("aten::split.Tensor(Tensor(a -> *) self, SymInt split_size, int dim=0) -> Tensor(a)[]", NONE),
    op("aten::split.sizes(Tensor(a -> *) self, SymInt[] split_size, int dim=0) -> Tensor(a)[]", NONE),
    op("aten::split_with_sizes(Tensor(a -> *) self, SymInt[] split_sizes, int dim=0) -> Tensor(a)[]", NONE),
    op("aten::chunk(Tensor(a -> *) self, int chunks, int dim=0) -> Tensor(a)[]", NONE),
    // In-place views (metadata mutations), storage swaps and resizes.
    op("aten::as_strided_(Tensor(a!) self, SymInt[] size, SymInt[] stride, SymInt? storage_offset=None) -> Tensor(a!)", INPLACE_VIEW),
    op("aten::detach_(Tensor(a!) self) -> Tensor(a!)", INPLACE_VIEW),
    op("aten::squeeze_(Tensor(a!) self) -> Tensor(a!)", INPLACE_VIEW),
    op("aten::squeeze_.dim(Tensor(a!) self, int dim) -> Tensor(a!)", INPLACE_VIEW),
    op("aten::squeeze_.dims(Tensor(a!) self, int[] dim) -> Tensor(a!)", INPLACE_VIEW),
    op("aten::swapaxes_(Tensor(a!) self, int axis0, int axis1) -> Tensor(a!)", INPLACE_VIEW),
    op("aten::swapdims_(Tensor(a!) self, int dim0, int dim1) -> Tensor(a!)", INPLACE_VIEW),
    op("aten::t_(Tensor(a!) self) -> Tensor(a!)", INPLACE_VIEW),
    op("aten::transpose_(Tensor(a!) self, int dim0, int dim1) -> Tensor(a!)", INPLACE_VIEW),
    op("aten::unsqueeze_(Tensor(a!) self, int dim) -> Tensor(a!)", INPLACE_VIEW),
    op("aten::set_(Tensor(a!) self) -> Tensor(a!)", INPLACE_VIEW),
    op("aten::set_.source_Storage(Tensor(a!) self, Storage source) -> Tensor(a!)", INPLACE_VIEW),
    op("aten::set_.source_Storage_storage_offset(Tensor(a!) self, Storage source, SymInt storage_offset, SymInt[] size, SymInt[] stride=[]) -> Tensor(a!)", INPLACE_VIEW),
    op("aten::set_.source_Tensor(Tensor(a!) self, Tensor source) -> Tensor(a!)", INPLACE_VIEW),
    op("aten::set_.source_Tensor_storage_offset(Tensor(a!) self, Tensor source, SymInt storage_offset, SymInt[] size, SymInt[] stride=[]) -> Tensor(a!)", INPLACE_VIEW),
    // Not a native function, hence no tags at all (as in the conformance dumps).
    op("aten::shallow_copy_data_(Tensor(a!) self, Tensor source) -> Tensor(a!)", NONE),
    op("aten::resize_(Tensor(a!) self, SymInt[] size, *, MemoryFormat? memory_format=None) -> Tensor(a!)", INPLACE_VIEW),
    op("aten::resize_as_(Tensor(a!) self, Tensor the_template, *, MemoryFormat? memory_format=None) -> Tensor(a!)", INPLACE_VIEW),
    // Functional copies of views.
    op("aten::view_copy(Tensor self, SymInt[] size) -> Tensor", VIEW_COPY),
    op("aten::view_copy.dtype(Tensor self, ScalarType dtype) -> Tensor", VIEW_COPY),
    op("aten::alias_copy(Tensor self) -> Tensor", VIEW_COPY),
    op("aten::as_strided_copy(Tensor self, SymInt[] size, SymInt[] stride, SymInt? storage_offset=None) -> Tensor", VIEW_COPY),
    op("aten::detach_copy(Tensor self) -> Tensor", VIEW_COPY),
    op("aten::diagonal_copy(Tensor self, int offset=0, int dim1=0, int dim2=1) -> Tensor", VIEW_COPY),
    op("aten::expand_copy(Tensor self, SymInt[] size, *, bool implicit=False) -> Tensor", VIEW_COPY),
    op("aten::permute_copy(Tensor self, int[] dims) -> Tensor", VIEW_COPY),
    op("aten::select_copy.int(Tensor self, int dim, SymInt index) -> Tensor", VIEW_COPY),
    op("aten::slice_copy.Tensor(Tensor self, int dim=0, SymInt? start=None, SymInt? end=None, SymInt step=1) -> Tensor", VIEW_COPY),
    op("aten::squeeze_copy(Tensor self) -> Tensor", VIEW_COPY),
    op("aten::squeeze_copy.dim(Tensor self, int dim) -> Tensor", VIEW_COPY),
    op("aten::squeeze_copy.dims(Tensor self, int[] dim) -> Tensor", VIEW_COPY),
    op("aten::t_copy(Tensor self) -> Tensor", VIEW_COPY),
    op("aten::transpose_copy.int(Tensor self, int dim0, int dim1) -> Tensor", VIEW_COPY),
    op("aten::unsqueeze_copy(Tensor self, int dim) -> Tensor", VIEW_COPY),
    op("aten::unfold_copy(Tensor self, int dimension, int size, int step) -> Tensor", VIEW_COPY),
    op("aten::unbind_copy.int(Tensor self, int dim=0) -> Tensor[]", VIEW_COPY),
    op("aten::split_copy.Tensor(Tensor self, SymInt split_size, int dim=0) -> Tensor[]", VIEW_COPY),
    op("aten::split_with_sizes_copy(Tensor self, SymInt[] split_sizes, int dim=0) -> Tensor[]", VIEW_COPY),
    // Indexing and scatter.
    op("aten::index.Tensor(Tensor self, Tensor?[] indices) -> Tensor", NONE),
    op("aten::index_select(Tensor self, int dim, Tensor index) -> Tensor", NONE),
    op("aten::gather(Tensor self, int dim, Tensor index, *, bool sparse_grad=False) -> Tensor", NONE),
    op("aten::index_put(Tensor self, Tensor?[] indices, Tensor values, bool accumulate=False) -> Tensor", NONE),
    op("aten::index_put_(Tensor(a!) self, Tensor?[] indices, Tensor values, bool accumulate=False) -> Tensor(a!)", INPLACE),
    op("aten::_unsafe_index_put(Tensor self, Tensor?[] indices, Tensor values, bool accumulate=False) -> Tensor", NONE),
    op("aten::index_copy(Tensor self, int dim, Tensor index, Tensor source) -> Tensor", NONE),
    op("aten::index_copy_(Tensor(a!) self, int dim, Tensor index, Tensor source) -> Tensor(a!)", INPLACE),
    op("aten::index_add(Tensor self, int dim, Tensor index, Tensor source, *, Scalar alpha=1) -> Tensor", NONE),
    op("aten::index_add_(Tensor(a!) self, int dim, Tensor index, Tensor source, *, Scalar alpha=1) -> Tensor(a!)", INPLACE),
    op("aten::index_fill_.int_Scalar(Tensor(a!) self, int dim, Tensor index, Scalar value) -> Tensor(a!)", INPLACE),
    op("aten::masked_fill.Scalar(Tensor self, Tensor mask, Scalar value) -> Tensor", NONE),
    op("aten::masked_fill.Tensor(Tensor self, Tensor mask, Tensor value) -> Tensor", NONE),
    op("aten::masked_fill_.Scalar(Tensor(a!) self, Tensor mask, Scalar value) -> Tensor(a!)", INPLACE),
    op("aten::masked_fill_.Tensor(Tensor(a!) self, Tensor mask, Tensor value) -> Tensor(a!)", INPLACE),
    op("aten::masked_scatter_(Tensor(a!) self, Tensor mask, Tensor source) -> Tensor(a!)", INPLACE),
    op("aten::scatter.src(Tensor self, int dim, Tensor index, Tensor src) -> Tensor", NONE),
    op("aten::scatter.value(Tensor self, int dim, Tensor index, Scalar value) -> Tensor", NONE),
    op("aten::scatter_.src(Tensor(a!) self, int dim, Tensor index, Tensor src) -> Tensor(a!)", INPLACE),
    op("aten::scatter_.value(Tensor(a!) self, int dim, Tensor index, Scalar value) -> Tensor(a!)", INPLACE),
    op("aten::scatter_add(Tensor self, int dim, Tensor index, Tensor src) -> Tensor", NONE),
    op("aten::scatter_add_(Tensor(a!) self, int dim, Tensor index, Tensor src) -> Tensor(a!)", INPLACE),
    op("aten::cat(Tensor[] tensors, int dim=0) -> Tensor", NONE),
    op("aten::stack(Tensor[] tensors, int dim=0) -> Tensor", NONE),
    op("aten::embedding(Tensor weight, Tensor indices, SymInt padding_idx=-1, bool scale_grad_by_freq=False, bool sparse=False) -> Tensor", NONE),
    op("aten::embedding_dense_backward(Tensor grad_output, Tensor indices, SymInt num_weights, SymInt padding_idx, bool scale_grad_by_freq) -> Tensor", NONE),
    // Linear algebra.
    op("aten::mm(Tensor self, Tensor mat2) -> Tensor", NONE),
    op("aten::mm.out(Tensor self, Tensor mat2, *, Tensor(a!) out) -> Tensor(a!)", OUT),
    op("aten::bmm(Tensor self, Tensor mat2) -> Tensor", NONE),
    op("aten::addmm(Tensor self, Tensor mat1, Tensor mat2, *, Scalar beta=1, Scalar alpha=1) -> Tensor", NONE),
    op("aten::addmm.out(Tensor self, Tensor mat1, Tensor mat2, *, Scalar beta=1, Scalar alpha=1, Tensor(a!) out) -> Tensor(a!)", OUT),
    op("aten::addmm_(Tensor(a!) self, Tensor mat1, Tensor mat2, *, Scalar beta=1, Scalar alpha=1) -> Tensor(a!)", INPLACE),
    op("aten::baddbmm(Tensor self, Tensor batch1, Tensor batch2, *, Scalar beta=1, Scalar alpha=1) -> Tensor", NONE),
    op("aten::convolution(Tensor input, Tensor weight, Tensor? bias, SymInt[] stride, SymInt[] padding, SymInt[] dilation, bool transposed, SymInt[] output_padding, SymInt groups) -> Tensor", NONE),
    // Reductions.
    op("aten::sum(Tensor self, *, ScalarType? dtype=None) -> Tensor", NONE),
    op("aten::sum.dim_IntList(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor", NONE),
    op("aten::sum.IntList_out(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None, Tensor(a!) out) -> Tensor(a!)", OUT),
    op("aten::mean(Tensor self, *, ScalarType? dtype=None) -> Tensor", NONE),
    op("aten::mean.dim(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor", NONE),
    op("aten::amax(Tensor self, int[1] dim=[], bool keepdim=False) -> Tensor", NONE),
    op("aten::amin(Tensor self, int[1] dim=[], bool keepdim=False) -> Tensor", NONE),
    op("aten::max(Tensor self) -> Tensor", NONE),
    op("aten::max.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, Tensor indices)", NONE),
    op("aten::argmax(Tensor self, int? dim=None, bool keepdim=False) -> Tensor", NONE),
    op("aten::var_mean.correction(Tensor self, int[1]? dim=None, *, Scalar? correction=None, bool keepdim=False) -> (Tensor, Tensor)", NONE),
    // Normalization, softmax, dropout and their backwards.
    op("aten::native_layer_norm(Tensor input, SymInt[] normalized_shape, Tensor? weight, Tensor? bias, float eps) -> (Tensor, Tensor, Tensor)", NONE),
    op("aten::native_layer_norm_backward(Tensor grad_out, Tensor input, SymInt[] normalized_shape, Tensor mean, Tensor rstd, Tensor? weight, Tensor? bias, bool[3] output_mask) -> (Tensor, Tensor, Tensor)", NONE),
    op("aten::native_batch_norm(Tensor input, Tensor? weight, Tensor? bias, Tensor? running_mean, Tensor? running_var, bool training, float momentum, float eps) -> (Tensor, Tensor, Tensor)", NONE),
    op("aten::_native_batch_norm_legit(Tensor input, Tensor? weight, Tensor? bias, Tensor(a!) running_mean, Tensor(b!) running_var, bool training, float momentum, float eps) -> (Tensor, Tensor, Tensor)", NONE),
    op("aten::_native_batch_norm_legit.no_stats(Tensor input, Tensor? weight, Tensor? bias, bool training, float momentum, float eps) -> (Tensor, Tensor, Tensor)", NONE),
    op("aten::_native_batch_norm_legit_no_training(Tensor input, Tensor? weight, Tensor? bias, Tensor running_mean, Tensor running_var, float momentum, float eps) -> (Tensor, Tensor, Tensor)", NONE),
    op("aten::_native_batch_norm_legit_functional(Tensor input, Tensor? weight, Tensor? bias, Tensor running_mean, Tensor running_var, bool training, float momentum, float eps) -> (Tensor, Tensor, Tensor, Tensor, Tensor)", NONE),
    op("aten::_softmax(Tensor self, int dim, bool half_to_float) -> Tensor", NONE),
    op("aten::_log_softmax(Tensor self, int dim, bool half_to_float) -> Tensor", NONE),
    op("aten::_softmax_backward_data(Tensor grad_output, Tensor output, int dim, ScalarType input_dtype) -> Tensor", NONE),
    op("aten::_log_softmax_backward_data(Tensor grad_output, Tensor output, int dim, ScalarType input_dtype) -> Tensor", NONE),
    op("aten::native_dropout(Tensor input, float p, bool? train) -> (Tensor, Tensor)", NONE),
    op("aten::threshold_backward(Tensor grad_output, Tensor self, Scalar threshold) -> Tensor", NONE),
    op("aten::gelu_backward(Tensor grad_output, Tensor self, *, str approximate=\"none\") -> Tensor", NONE),
    op("aten::sigmoid_backward(Tensor grad_output, Tensor output) -> Tensor", NONE),
    op("aten::tanh_backward(Tensor grad_output, Tensor output) -> Tensor", NONE),
    // Symbolic sizes.
    op("aten::sym_size.int(Tensor self, int dim) -> SymInt", NONE),
    op("aten::sym_stride.int(Tensor self, int dim) -> SymInt", NONE),
    op("aten::sym_numel(Tensor self) -> SymInt", NONE),
    op("aten::sym_storage_offset(Tensor self) -> SymInt", NONE),
];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::super::{classify, OpClass, ReturnKind, Schema};
    use super::{builtin_schema, builtin_tags, BUILTINS, INPLACE, INPLACE_VIEW, OUT, VIEW_COPY};

    /// Every operator of the conformance dumps with its schema and tags,
    /// exactly as PyTorch wrote them there.
    #[rustfmt::skip]
    const FROM_DUMPS: &[(&str, &str, &[&str])] = &[
        ("aten._log_softmax.default", "aten::_log_softmax(Tensor self, int dim, bool half_to_float) -> Tensor", &[]),
        ("aten._native_batch_norm_legit.default", "aten::_native_batch_norm_legit(Tensor input, Tensor? weight, Tensor? bias, Tensor(a!) running_mean, Tensor(b!) running_var, bool training, float momentum, float eps) -> (Tensor, Tensor, Tensor)", &[]),
        ("aten._native_batch_norm_legit_no_training.default", "aten::_native_batch_norm_legit_no_training(Tensor input, Tensor? weight, Tensor? bias, Tensor running_mean, Tensor running_var, float momentum, float eps) -> (Tensor, Tensor, Tensor)", &[]),
        ("aten._unsafe_view.default", "aten::_unsafe_view(Tensor self, SymInt[] size) -> Tensor", &[]),
        ("aten.add.Tensor", "aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor", &[]),
        ("aten.add_.Tensor", "aten::add_.Tensor(Tensor(a!) self, Tensor other, *, Scalar alpha=1) -> Tensor(a!)", &["inplace"]),
        ("aten.addmm.default", "aten::addmm(Tensor self, Tensor mat1, Tensor mat2, *, Scalar beta=1, Scalar alpha=1) -> Tensor", &[]),
        ("aten.as_strided_.default", "aten::as_strided_(Tensor(a!) self, SymInt[] size, SymInt[] stride, SymInt? storage_offset=None) -> Tensor(a!)", &["inplace", "inplace_view"]),
        ("aten.copy_.default", "aten::copy_(Tensor(a!) self, Tensor src, bool non_blocking=False) -> Tensor(a!)", &["inplace"]),
        ("aten.detach.default", "aten::detach(Tensor(a) self) -> Tensor(a)", &[]),
        ("aten.diagonal.default", "aten::diagonal(Tensor(a) self, int offset=0, int dim1=0, int dim2=1) -> Tensor(a)", &[]),
        ("aten.empty.memory_format", "aten::empty.memory_format(SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor", &[]),
        ("aten.gelu.default", "aten::gelu(Tensor self, *, str approximate=\"none\") -> Tensor", &[]),
        ("aten.mul.Tensor", "aten::mul.Tensor(Tensor self, Tensor other) -> Tensor", &[]),
        ("aten.mul_.Tensor", "aten::mul_.Tensor(Tensor(a!) self, Tensor other) -> Tensor(a!)", &["inplace"]),
        ("aten.native_layer_norm.default", "aten::native_layer_norm(Tensor input, SymInt[] normalized_shape, Tensor? weight, Tensor? bias, float eps) -> (Tensor, Tensor, Tensor)", &[]),
        ("aten.relu.default", "aten::relu(Tensor self) -> Tensor", &[]),
        ("aten.relu_.default", "aten::relu_(Tensor(a!) self) -> Tensor(a!)", &["inplace"]),
        ("aten.resize_.default", "aten::resize_(Tensor(a!) self, SymInt[] size, *, MemoryFormat? memory_format=None) -> Tensor(a!)", &["inplace", "inplace_view"]),
        ("aten.select.int", "aten::select.int(Tensor(a) self, int dim, SymInt index) -> Tensor(a)", &[]),
        ("aten.set_.source_Tensor", "aten::set_.source_Tensor(Tensor(a!) self, Tensor source) -> Tensor(a!)", &["inplace", "inplace_view"]),
        ("aten.shallow_copy_data_.default", "aten::shallow_copy_data_(Tensor(a!) self, Tensor source) -> Tensor(a!)", &[]),
        ("aten.slice.Tensor", "aten::slice.Tensor(Tensor(a) self, int dim=0, SymInt? start=None, SymInt? end=None, SymInt step=1) -> Tensor(a)", &[]),
        ("aten.split.Tensor", "aten::split.Tensor(Tensor(a -> *) self, SymInt split_size, int dim=0) -> Tensor(a)[]", &[]),
        ("aten.sub.Tensor", "aten::sub.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor", &[]),
        ("aten.sum.default", "aten::sum(Tensor self, *, ScalarType? dtype=None) -> Tensor", &[]),
        ("aten.sum.dim_IntList", "aten::sum.dim_IntList(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor", &[]),
        ("aten.sym_size.int", "aten::sym_size.int(Tensor self, int dim) -> SymInt", &[]),
        ("aten.t.default", "aten::t(Tensor(a) self) -> Tensor(a)", &[]),
        ("aten.t_.default", "aten::t_(Tensor(a!) self) -> Tensor(a!)", &["inplace", "inplace_view"]),
        ("aten.transpose_.default", "aten::transpose_(Tensor(a!) self, int dim0, int dim1) -> Tensor(a!)", &["inplace", "inplace_view"]),
        ("aten.unbind.int", "aten::unbind.int(Tensor(a -> *) self, int dim=0) -> Tensor(a)[]", &[]),
        ("aten.unsqueeze_.default", "aten::unsqueeze_(Tensor(a!) self, int dim) -> Tensor(a!)", &["inplace", "inplace_view"]),
        ("aten.view.default", "aten::view(Tensor(a) self, SymInt[] size) -> Tensor(a)", &[]),
    ];

    #[test]
    fn covers_the_conformance_operators_verbatim() {
        for &(target, schema, tags) in FROM_DUMPS {
            assert_eq!(builtin_schema(target), Some(schema), "{target}");
            assert_eq!(builtin_tags(target), Some(tags), "{target}");
        }
    }

    /// Each entry parses, prints back verbatim, is found under its own target
    /// and nowhere else, and classifies as its tags say.
    #[test]
    fn entries_are_consistent() {
        let mut targets = HashSet::new();
        for op in BUILTINS {
            let schema = match Schema::parse(op.schema) {
                Ok(schema) => schema,
                Err(err) => panic!("{}: {err}", op.schema),
            };
            assert_eq!(schema.to_string(), op.schema);
            let target = schema.target().unwrap_or_default();
            assert!(targets.insert(target.clone()), "duplicate {target}");
            assert_eq!(builtin_schema(&target), Some(op.schema));
            assert!(
                op.tags.windows(2).all(|w| w[0] < w[1]),
                "{target}: tags not sorted"
            );

            let tags: Vec<String> = op.tags.iter().map(|t| (*t).to_owned()).collect();
            let class = classify(&target, &schema, Some(&tags));
            let returns_written = schema
                .return_kinds()
                .iter()
                .all(|k| matches!(k, ReturnKind::WrittenArgument(_)));
            let ok = match op.tags {
                t if t == INPLACE_VIEW => matches!(
                    class,
                    Ok(OpClass::InplaceView
                        | OpClass::Resize
                        | OpClass::SetStorage {
                            shallow_copy: false
                        })
                ),
                t if t == INPLACE => {
                    class == Ok(OpClass::DataMutation)
                        && schema.base_name().ends_with('_')
                        && schema.return_kinds() == [ReturnKind::WrittenArgument(0)]
                }
                t if t == OUT => class == Ok(OpClass::DataMutation) && returns_written,
                t if t == VIEW_COPY => class == Ok(OpClass::Functional),
                _ => class.is_ok(),
            };
            assert!(ok, "{target}: {class:?}");
            // Without tags the normative list must agree with the tags.
            assert_eq!(classify(&target, &schema, None), class, "{target}");
        }
    }

    #[test]
    fn unknown_or_malformed_targets() {
        for target in [
            "",
            "aten",
            "aten.add",
            "aten.add.Foo",
            "aten.nonexistent.default",
            "prims.add.default",
            "aten..",
            ".",
        ] {
            assert_eq!(builtin_schema(target), None, "{target}");
            assert_eq!(builtin_tags(target), None, "{target}");
        }
        assert!(builtin_schema("aten.t_.default").is_some());
        assert!(builtin_schema("aten.squeeze_.dims").is_some());
    }
}
