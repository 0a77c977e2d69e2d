# Per-instruction-set fused-attention kernels: one template (flash_impl.h) compiled once per ISA
# with its own flags and namespace; src/kernels/flash_attention.cc picks one at run time.
# Only these files get ISA flags: never -march=native, never a global -Ofast.
set(ATTEND_FLASH_CPU_DIR ${CMAKE_CURRENT_LIST_DIR})
target_sources(attend_kernels PRIVATE
  ${ATTEND_FLASH_CPU_DIR}/flash_generic.cc
  ${ATTEND_FLASH_CPU_DIR}/flash_avx2.cc
  ${ATTEND_FLASH_CPU_DIR}/flash_avx512.cc)
set_source_files_properties(${ATTEND_FLASH_CPU_DIR}/flash_avx2.cc PROPERTIES
  COMPILE_OPTIONS "-mavx2;-mfma")
set_source_files_properties(${ATTEND_FLASH_CPU_DIR}/flash_avx512.cc PROPERTIES
  COMPILE_OPTIONS "-mavx512f;-mavx512bw;-mavx512dq;-mavx512vl;-mavx2;-mfma")
