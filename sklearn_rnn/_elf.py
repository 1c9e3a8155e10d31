"""The symbols an ELF object file defines, read from its symbol table.

Numba caches a kernel's machine code as an object file (ELF on Linux). Reading
the names of the symbols it defines from the file's symbol table takes about
0.2 ms; Numba gets them by parsing the kernel's LLVM bitcode and walking its
functions, 12-14 ms per kernel (see ``_config._libraries_from_object_code``).
Only 64-bit little-endian files are read (Linux on x86-64 and AArch64); for
anything else the caller does as Numba does.
"""

import struct

_SECTION_HEADER = struct.Struct("<IIQQQQIIQQ")
_SYMBOL = struct.Struct("<IBBHQQ")
_SHT_SYMTAB = 2  # a section that is a symbol table
_SHN_UNDEF = 0  # the section index of a symbol the file uses but does not define
#: Bindings of the symbols other code can find: global and weak (not local).
_VISIBLE_BINDINGS = (1, 2)


def defined_global_symbols(data):
    """Names of the global and weak symbols that the ELF object ``data`` defines.

    Returns a set of str, or None when ``data`` is not a 64-bit little-endian ELF
    file or its tables do not fit in it.
    """
    data = bytes(data)
    if data[:6] != b"\x7fELF\x02\x01":  # magic, 64-bit, little-endian
        return None
    try:
        (section_offset,) = struct.unpack_from("<Q", data, 0x28)
        entry_size, n_sections = struct.unpack_from("<HH", data, 0x3A)
        if entry_size != _SECTION_HEADER.size:
            return None
        sections = [
            _SECTION_HEADER.unpack_from(data, section_offset + k * entry_size)
            for k in range(n_sections)
        ]
        names = set()
        for _, kind, _, _, offset, size, link, _, _, symbol_size in sections:
            if kind != _SHT_SYMTAB:
                continue
            if symbol_size != _SYMBOL.size or offset + size > len(data):
                return None
            strings = sections[link][4]  # the string table the symbols' names are in
            for start in range(offset, offset + size, symbol_size):
                name, info, _, section, _, _ = _SYMBOL.unpack_from(data, start)
                if section == _SHN_UNDEF or info >> 4 not in _VISIBLE_BINDINGS:
                    continue
                first = strings + name
                last = data.index(b"\0", first)
                names.add(data[first:last].decode("utf-8"))
        return names
    except (struct.error, IndexError, ValueError):  # a truncated or corrupt file
        return None
