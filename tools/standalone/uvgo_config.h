/* uvgo_config.h for the standalone task-layer build. */
#define UVGO_HAVE_VALGRIND_H 0
#define UVGO_ASAN 0
#define UVGO_TSAN 0
#define UVGO_SWITCH_ASM 1
