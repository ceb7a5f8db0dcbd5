/*
 * bcryptprimitives.dll for Wine 8, which does not ship one.
 *
 * Rust's standard library (1.78 and later) takes its random bytes from
 * ProcessPrng in bcryptprimitives.dll, so on Wine 8 every Rust program fails
 * to load (exit 53). This DLL exports that one function on top of
 * advapi32's RtlGenRandom (SystemFunction036), which Wine has. It exists only
 * for the Windows test pass under Wine (`cargo xtask windows`, which builds
 * it with MinGW); real Windows has its own. Written by hand: no package ships
 * such a shim.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
