// cxx_replaced_new.cpp — a program that replaces only the basic operator new
// and delete, as C++ allows, with blocks carrying a 16-byte header. Array,
// sized and nothrow forms must reach these replacements (through the C++
// runtime), never free() a header-offset pointer. Prints the counts.
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

// Replacing only these two is valid C++ (the other forms call them); g++ warns
// anyway, and this program exists to do exactly that.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wsized-deallocation"
#endif

static int news, deletes;

void *operator new(std::size_t size)
{
    char *block = static_cast<char *>(std::malloc(size + 16));
    if (!block) throw std::bad_alloc();
    news++;
    return block + 16;
}

void operator delete(void *p) noexcept
{
    if (!p) return;
    deletes++;
    std::free(static_cast<char *>(p) - 16);
}

struct Node {
    long value[4];
};

int main()
{
    Node *node = new Node();              // operator new
    delete node;                          // sized delete (C++14) -> our operator delete
    int *array = new int[100];            // operator new[] -> operator new
    delete[] array;                       // operator delete[] -> operator delete
    Node *maybe = new (std::nothrow) Node(); // nothrow -> operator new
    delete maybe;
    std::vector<std::string> words;
    for (int i = 0; i < 100; i++) words.push_back(std::string(40, 'a' + i % 26));
    words.clear();
    words.shrink_to_fit();
    std::printf("news %d, deletes %d\n", news, deletes);
    return news == deletes ? 0 : 1;
}
