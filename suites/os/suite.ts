import { defineSuite } from 'dutlab';

export default defineSuite({
  title: 'OS: identity, partitions, engine, containers, persistence, network, time, system services',
});
