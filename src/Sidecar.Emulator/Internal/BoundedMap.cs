namespace Sidecar.Emulator.Internal;

/// <summary>A dictionary that forgets its oldest keys past a capacity (idempotency keys are not kept forever).</summary>
internal sealed class BoundedMap<TKey, TValue>(int capacity)
    where TKey : notnull
{
    private readonly Dictionary<TKey, TValue> _map = [];
    private readonly Queue<TKey> _order = new();

    public bool ContainsKey(TKey key) => _map.ContainsKey(key);

    public bool TryGetValue(TKey key, out TValue value) => _map.TryGetValue(key, out value!);

    public void Add(TKey key, TValue value)
    {
        if (!_map.TryAdd(key, value))
        {
            return;
        }

        _order.Enqueue(key);
        if (_order.Count > capacity)
        {
            _map.Remove(_order.Dequeue());
        }
    }
}
