;;; (ebpf features) --- what this kernel and tool chain can do.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.

(define-module (ebpf features)
  #:use-module (ebpf core)
  #:export (bpf-features bpf-feature))

(define* (bpf-features #:key refresh?)
  "Return an alist describing this system: @code{kernel-release},
@code{btf}, @code{ringbuf}, @code{fentry}, @code{kprobes},
@code{link-kinds}, @code{bpffs-mounted}, @code{tracefs-mounted},
@code{capabilities} (and each of @code{cap-bpf}, @code{cap-net-admin},
@code{cap-perfmon}, @code{cap-sys-admin}), @code{clang},
@code{clang-version} and @code{libbpf-version}.  Probes run once and are
cached; @var{refresh?} probes again."
  (%bpf-features refresh?))

(define (bpf-feature name)
  "Return the value of feature @var{name} from @code{bpf-features}."
  (assq-ref (bpf-features) name))
